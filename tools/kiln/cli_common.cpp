#include "cli_common.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/dispatch.h"
#include "core/npy.h"
#include "fmt/format.h"
#include "onnx/importer.h"

namespace kiln::cli {

Result<std::map<std::string, Dims>> parse_shapes(const std::string& spec, const std::string& flag) {
  std::map<std::string, Dims> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size()) {
      return invalid_argument(fmt::format("{}: '{}' is not NAME:DIMS (e.g. input:1x3x224x224)", flag, item));
    }
    const std::string name = item.substr(0, colon);
    // getline drops a trailing empty field, so "1x3x" would otherwise read as 1x3.
    if (item.back() == 'x') {
      return invalid_argument(fmt::format("{}: '{}' has a bad dim '' (dims are non-negative integers joined by x)", flag, item));
    }
    Dims dims;
    std::stringstream ds(item.substr(colon + 1));
    std::string d;
    while (std::getline(ds, d, 'x')) {
      char* end = nullptr;
      const long long v = std::strtoll(d.c_str(), &end, 10);
      if (d.empty() || *end != '\0' || v < 0) {
        return invalid_argument(fmt::format("{}: '{}' has a bad dim '{}' (dims are non-negative integers joined by x)", flag, item, d));
      }
      dims.push_back(v);
    }
    out[name] = dims;
  }
  return out;
}

bool is_engine_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  f.read(magic, 8);
  return f && std::memcmp(magic, "KILNENG\0", 8) == 0;
}

Result<Engine> load_or_build(const std::string& path, const BuilderConfig& config) {
  if (is_engine_file(path)) return Engine::load(path);
  Builder builder(config);
  return builder.build_from_file(path);
}

Result<Tensor> read_tensor_file(const std::string& path) {
  if (path.size() > 3 && path.substr(path.size() - 3) == ".pb") {
    KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
    return tensor_from_proto_bytes(bytes, fmt::format("'{}'", path));
  }
  return read_npy(path);
}

Result<Tensor> random_tensor(const IoInfo& io, const Dims& dims, std::mt19937_64& rng) {
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(io.dtype, dims));
  Status s = dispatch_all(io.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_as<T>();
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = u(rng) < 0.5;
      else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(u(rng) * 10);  // small indices stay valid
      else p[i] = static_cast<T>(static_cast<compute_t<T>>(u(rng)));
    }
    return ok_status();
  });
  if (!s.ok()) return s;
  return t;
}

Result<NamedTensors> prepare_inputs(const Engine& engine, const std::vector<std::string>& input_specs,
                                    const std::map<std::string, Dims>& shapes, uint64_t seed) {
  NamedTensors inputs;
  for (const std::string& spec : input_specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument(fmt::format("--input '{}' is not NAME=FILE", spec));
    KILN_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(spec.substr(eq + 1)));
    inputs[spec.substr(0, eq)] = std::move(t);
  }
  std::mt19937_64 rng(seed);
  for (const IoInfo& io : engine.inputs()) {
    if (inputs.count(io.name)) continue;
    Dims dims = io.dims;
    if (shapes.count(io.name)) {
      dims = shapes.at(io.name);
    } else {
      for (size_t d = 0; d < dims.size(); ++d) {
        if (dims[d] < 0) {
          return invalid_argument(fmt::format("input '{}' has symbolic shape {}: give --shapes {}:<dims> or --input {}=FILE.npy",
                                              io.name, io.shape_string(), io.name, io.name));
        }
      }
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, random_tensor(io, dims, rng));
    inputs[io.name] = std::move(t);
  }
  return inputs;
}

int fail(const Status& s) {
  std::fprintf(stderr, "kiln: error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace kiln::cli
