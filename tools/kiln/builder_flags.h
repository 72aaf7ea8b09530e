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
  std::string timing_cache;
  bool no_tuning = false;

  void add_to(CLI::App& cmd);
  // The config, or an error naming the flag at fault.
  Result<BuilderConfig> config() const;
};

}  // namespace kiln::cli
