#include "cli_common.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fmt/format.h"

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

int fail(const Status& s) {
  std::fprintf(stderr, "kiln: error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace kiln::cli
