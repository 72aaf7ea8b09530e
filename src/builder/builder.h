// The build pipeline shared by the public Builder and the tests: import → infer → optimize →
// lower (choose each node's kernel) → engine state.
#pragma once

#include <memory>

#include "ir/graph.h"
#include "kiln/kiln.h"
#include "passes/pass.h"
#include "runtime/engine_state.h"

namespace kiln {

struct BuildInput {
  std::unique_ptr<Graph> graph;
  std::string source_name;
  std::string source_sha256;
  size_t onnx_nodes = 0;
};

// `dump` receives the text IR after `dump_after` (a pass name), when set.
Result<std::shared_ptr<EngineState>> build_engine(BuildInput input, const BuilderConfig& config,
                                                  const std::string& dump_after = "",
                                                  const std::function<void(const std::string&)>& dump = {});

// Type/shape inference over a graph, writing the results into its Values (symbolic where the
// inputs are symbolic). Small constant subexpressions are evaluated along the way.
Status infer_and_annotate(Graph& g);

}  // namespace kiln
