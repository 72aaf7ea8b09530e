// The build flags shared by `kiln build` and `kiln run` (which builds in memory from .onnx).
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "kiln/kiln.h"

namespace kiln::cli {

struct BuilderFlags {
  std::string backend = "cpu";
  int opt_level = 3;
  bool fp16 = false, bf16 = false, no_tf32 = false;
  std::vector<std::string> disabled_passes;
  std::string min_shapes, opt_shapes, max_shapes;
  std::vector<std::string> shape_profiles;  // one --shape-profile each
  std::string timing_cache;
  bool no_tuning = false;

  void add_to(CLI::App& cmd);
  // The config, or an error naming the flag at fault.
  Result<BuilderConfig> config() const;
};

// One --shape-profile: "x:1x3:2x3:4x3,y:1x5:1x5:1x5" -> a range per input, or an error naming the
// malformed item.
Result<std::vector<InputRange>> parse_profile(const std::string& spec);

}  // namespace kiln::cli
