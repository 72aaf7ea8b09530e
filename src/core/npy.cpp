#include "core/npy.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "fmt/format.h"

namespace kiln {

namespace {

struct NpyType {
  const char* descr;
  DataType dtype;
};
constexpr NpyType kTypes[] = {
    {"<f4", DataType::kFloat32}, {"<f8", DataType::kFloat64}, {"<f2", DataType::kFloat16}, {"|i1", DataType::kInt8},
    {"<i2", DataType::kInt16},   {"<i4", DataType::kInt32},   {"<i8", DataType::kInt64},   {"|u1", DataType::kUInt8},
    {"<u2", DataType::kUInt16},  {"<u4", DataType::kUInt32},  {"<u8", DataType::kUInt64},  {"|b1", DataType::kBool},
    {"<V2", DataType::kBFloat16},  // numpy has no bfloat16: raw 2-byte records (ml_dtypes writes this)
};

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found(fmt::format("input file '{}' not found", path));
  char magic[8];
  f.read(magic, 8);
  if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) return invalid_argument(fmt::format("'{}' is not a .npy file", path));
  const int major = magic[6];
  uint32_t hlen = 0;
  if (major == 1) {
    uint16_t h16 = 0;
    f.read(reinterpret_cast<char*>(&h16), 2);
    hlen = h16;
  } else if (major == 2 || major == 3) {
    f.read(reinterpret_cast<char*>(&hlen), 4);
  } else {
    return unsupported(fmt::format("'{}': .npy format version {}", path, major));
  }
  if (!f || hlen > (1u << 20)) return invalid_argument(fmt::format("'{}': damaged .npy header", path));
  std::string header(hlen, '\0');
  f.read(header.data(), hlen);
  if (!f) return invalid_argument(fmt::format("'{}': truncated .npy header", path));
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'"))) {
    return invalid_argument(fmt::format("'{}': .npy header has no descr", path));
  }
  const std::string descr = m[1];
  DataType dtype = DataType::kUndefined;
  for (const auto& t : kTypes) {
    if (descr == t.descr || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == std::string(t.descr).substr(1))) dtype = t.dtype;
  }
  if (dtype == DataType::kUndefined) return unsupported(fmt::format("'{}': .npy dtype '{}'", path, descr));
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True"))) {
    return unsupported(fmt::format("'{}': Fortran-order arrays (save with np.ascontiguousarray)", path));
  }
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) {
    return invalid_argument(fmt::format("'{}': .npy header has no shape", path));
  }
  Dims dims;
  std::stringstream ss(m[1].str());
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    if (item.empty()) continue;
    dims.push_back(std::atoll(item.c_str()));
  }
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
  f.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(t.nbytes()));
  if (!f) return invalid_argument(fmt::format("'{}': data is shorter than its shape {}", path, dims_to_string(dims)));
  return t;
}

Status write_npy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  for (const auto& x : kTypes) {
    if (x.dtype == t.dtype()) descr = x.descr;
  }
  if (!descr) return unsupported(fmt::format("cannot write dtype {} as .npy", dtype_name(t.dtype())));
  std::string shape;
  for (int64_t d : t.shape()) shape += std::to_string(d) + ",";
  if (t.rank() > 1) shape.pop_back();
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return io_error(fmt::format("cannot write '{}'", path));
  f.write("\x93NUMPY\x01\x00", 8);
  const auto hlen = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&hlen), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(t.data()), static_cast<std::streamsize>(t.nbytes()));
  if (!f) return io_error(fmt::format("cannot write '{}'", path));
  return ok_status();
}

}  // namespace kiln
