// Graph passes. Each pass is one file; the PassManager runs them by optimization level,
// to a fixed point, can skip a pass by name and can dump the graph after one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  // The lowest --opt-level that runs it.
  virtual int level() const = 0;
  // Returns whether it changed the graph.
  virtual Result<bool> run(Graph& g) = 0;
};

std::unique_ptr<Pass> make_fold_constants_pass();
std::unique_ptr<Pass> make_eliminate_dead_code_pass();

struct PassOptions {
  int opt_level = 1;
  std::vector<std::string> disabled;
  std::string dump_after;                                 // a pass name
  std::function<void(const std::string&)> dump;          // receives the text IR
};

// Every pass kiln has, in the order they run.
std::vector<std::unique_ptr<Pass>> all_passes();
std::vector<std::string> pass_names();

Status run_passes(Graph& g, const PassOptions& options);

}  // namespace kiln
