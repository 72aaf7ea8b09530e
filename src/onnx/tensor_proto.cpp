#include "onnx/tensor_proto.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "fmt/format.h"

namespace kiln {

namespace {

// Allocates only after the location, offset and length are checked against the file, so a damaged
// model claiming a huge external tensor is refused instead of exhausting memory.
Result<Tensor> read_external(const onnx::TensorProto& p, const std::string& base_dir, const std::string& what,
                             size_t want, DataType dtype, const Dims& dims) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = std::atoll(kv.value().c_str());
    else if (kv.key() == "length") length = std::atoll(kv.value().c_str());
  }
  if (location.empty()) return corrupt(fmt::format("{}: external data without a location", what));
  if (base_dir.empty()) {
    return invalid_argument(fmt::format("{}: external data '{}' needs the model's directory (load from a file)", what, location));
  }
  namespace fs = std::filesystem;
  const fs::path rel(location);
  // Like onnx's checker: external data must stay inside the model's directory.
  if (rel.is_absolute() || rel.lexically_normal().string().rfind("..", 0) == 0) {
    return invalid_argument(fmt::format("{}: external data path '{}' leaves the model's directory", what, location));
  }
  const fs::path full = fs::path(base_dir) / rel;
  std::ifstream f(full, std::ios::binary);
  if (!f) return not_found(fmt::format("{}: external data file '{}' not found", what, full.string()));
  f.seekg(0, std::ios::end);
  const auto size = static_cast<int64_t>(f.tellg());
  if (offset < 0 || offset > size) {
    return corrupt(fmt::format("{}: external data offset {} is outside '{}' ({} bytes)", what, offset, full.string(), size));
  }
  if (length >= 0 && static_cast<size_t>(length) != want) {
    return corrupt(fmt::format("{}: external data length {} does not match its shape ({} bytes)", what, length, want));
  }
  if (static_cast<int64_t>(want) > size - offset) {
    return corrupt(fmt::format("{}: external data in '{}' is truncated ({} bytes wanted at offset {}, file has {})",
                               what, full.string(), want, offset, size));
  }
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
  f.seekg(offset);
  f.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(want));
  if (!f) return io_error(fmt::format("{}: cannot read external data from '{}'", what, full.string()));
  return t;
}

template <typename Src, typename Dst>
void copy_cast(const Src& src, Dst* dst) {
  for (int i = 0; i < src.size(); ++i) dst[i] = static_cast<Dst>(src.Get(i));
}

// INT4/UINT4: ONNX packs two elements per byte (the first in the low nibble, an odd count padded)
// in raw_data, external data and int32_data (one packed byte per int32). kiln holds them unpacked,
// one element per byte: int4 sign-extended into an int8, uint4 in a uint8.
Result<Tensor> int4_from_proto(const onnx::TensorProto& p, const std::string& base_dir, const std::string& what,
                               DataType dtype, const Dims& dims, int64_t n) {
  const size_t packed = static_cast<size_t>((n + 1) / 2);
  std::string bytes;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    KILN_ASSIGN_OR_RETURN(Tensor raw, read_external(p, base_dir, what, packed, DataType::kUInt8,
                                                    Dims{static_cast<int64_t>(packed)}));
    bytes.assign(static_cast<const char*>(raw.data()), packed);
  } else if (p.has_raw_data()) {
    if (p.raw_data().size() != packed) {
      return corrupt(fmt::format("{}: raw_data has {} bytes, shape {} of {} needs {} (two elements per byte)", what,
                                 p.raw_data().size(), dims_to_string(dims), dtype_name(dtype), packed));
    }
    bytes = p.raw_data();
  } else {
    if (static_cast<size_t>(p.int32_data_size()) != packed) {
      return corrupt(fmt::format("{}: has {} int32_data values, shape {} of {} needs {} (two elements per value)",
                                 what, p.int32_data_size(), dims_to_string(dims), dtype_name(dtype), packed));
    }
    bytes.resize(packed);
    for (size_t i = 0; i < packed; ++i) bytes[i] = static_cast<char>(p.int32_data(static_cast<int>(i)) & 0xff);
  }
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
  auto* out = static_cast<uint8_t*>(t.data());
  const bool is_signed = dtype == DataType::kInt4;
  for (int64_t i = 0; i < n; ++i) {
    const auto byte = static_cast<uint8_t>(bytes[static_cast<size_t>(i / 2)]);
    const int nibble = (i % 2 == 0) ? (byte & 0x0f) : (byte >> 4);
    // int4: two's complement in 4 bits, so 8..15 are -8..-1.
    const int v = is_signed ? ((nibble ^ 0x08) - 0x08) : nibble;
    out[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
  }
  return t;
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir, const std::string& what) {
  const auto dtype = static_cast<DataType>(p.data_type());
  if (p.data_type() == 0) return invalid_argument(fmt::format("{}: data_type is not set", what));
  if (!dtype_is_supported(dtype)) {
    return unsupported(fmt::format("{}: dtype {} is not supported", what, dtype_name(dtype)));
  }
  Dims dims;
  for (int64_t d : p.dims()) {
    if (d < 0) return invalid_argument(fmt::format("{}: negative dim {}", what, d));
    dims.push_back(d);
  }
  const int64_t n = element_count(dims);
  if (n < 0) return invalid_argument(fmt::format("{}: shape {} is too large", what, dims_to_string(dims)));
  if (p.has_segment()) return unsupported(fmt::format("{}: segmented tensors", what));
  const size_t esize = dtype_size(dtype);
  const size_t want = static_cast<size_t>(n) * esize;

  if (dtype == DataType::kInt4 || dtype == DataType::kUInt4) return int4_from_proto(p, base_dir, what, dtype, dims, n);
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    return read_external(p, base_dir, what, want, dtype, dims);
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != want) {
      return corrupt(fmt::format("{}: raw_data has {} bytes, shape {} of {} needs {}", what, p.raw_data().size(),
                                 dims_to_string(dims), dtype_name(dtype), want));
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
    if (want) std::memcpy(t.data(), p.raw_data().data(), want);
    return t;
  }

  // Typed fields: which repeated field holds the data depends on the dtype.
  auto count_error = [&](int have) {
    return corrupt(fmt::format("{}: has {} values, shape {} needs {}", what, have, dims_to_string(dims), n));
  };
  // Check the value count before allocating: a damaged file can claim a huge shape with no data,
  // and allocating (and zero-filling) that first would exhaust memory before the check below.
  const int typed_count = [&] {
    switch (dtype) {
      case DataType::kFloat32: return p.float_data_size();
      case DataType::kFloat64: return p.double_data_size();
      case DataType::kInt64: return p.int64_data_size();
      case DataType::kUInt32:
      case DataType::kUInt64: return p.uint64_data_size();
      default: return p.int32_data_size();
    }
  }();
  if (typed_count != n) return count_error(typed_count);
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
  switch (dtype) {
    case DataType::kFloat32:
      if (p.float_data_size() != n) return count_error(p.float_data_size());
      copy_cast(p.float_data(), t.data_as<float>());
      break;
    case DataType::kFloat64:
      if (p.double_data_size() != n) return count_error(p.double_data_size());
      copy_cast(p.double_data(), t.data_as<double>());
      break;
    case DataType::kInt64:
      if (p.int64_data_size() != n) return count_error(p.int64_data_size());
      copy_cast(p.int64_data(), t.data_as<int64_t>());
      break;
    case DataType::kUInt32:
      if (p.uint64_data_size() != n) return count_error(p.uint64_data_size());
      copy_cast(p.uint64_data(), t.data_as<uint32_t>());
      break;
    case DataType::kUInt64:
      if (p.uint64_data_size() != n) return count_error(p.uint64_data_size());
      copy_cast(p.uint64_data(), t.data_as<uint64_t>());
      break;
    case DataType::kInt32:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      copy_cast(p.int32_data(), t.data_as<int32_t>());
      break;
    case DataType::kInt16:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      copy_cast(p.int32_data(), t.data_as<int16_t>());
      break;
    case DataType::kInt8:
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      copy_cast(p.int32_data(), t.data_as<int8_t>());
      break;
    case DataType::kUInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:  // 16-bit patterns stored in int32_data
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      copy_cast(p.int32_data(), t.data_as<uint16_t>());
      break;
    case DataType::kUInt8:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:  // 8-bit patterns stored in int32_data
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      copy_cast(p.int32_data(), t.data_as<uint8_t>());
      break;
    case DataType::kBool: {
      if (p.int32_data_size() != n) return count_error(p.int32_data_size());
      auto* d = t.data_as<bool>();
      for (int i = 0; i < p.int32_data_size(); ++i) d[i] = p.int32_data(i) != 0;
      break;
    }
    default:
      return unsupported(fmt::format("{}: dtype {}", what, dtype_name(dtype)));
  }
  return t;
}

}  // namespace kiln
