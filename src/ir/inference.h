// Type and shape inference over a whole graph, with constant propagation.
//
// It runs on a side table of ValueStates, so an immutable graph (an Engine's) can be inferred
// per call with concrete input shapes, and the builder can infer symbolically and write results
// back into the graph's Values.
#pragma once

#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln {

using ValueStates = std::unordered_map<const Value*, ValueState>;

struct InferenceOptions {
  // Called for a node whose inputs all have known contents (and that is deterministic): return
  // its outputs' contents to propagate them, or std::nullopt to leave them unknown (for example
  // when the result would be large). Errors stop inference.
  std::function<Result<std::optional<std::vector<Tensor>>>(const Node&, const std::vector<const Tensor*>&)>
      evaluate;
  // Give each dim inference cannot size a fresh name ("?1", "?2", ...), so values derived from
  // one unknown dim share it: a head split's Reshape target, read from Shape(x), then matches
  // x's own dims. Names continue after the largest one already in the graph. The builder sets
  // this; per-run inference (all dims known) does not need it.
  bool name_unknown_dims = false;
};

// States for the graph's constants (their contents) and, for the other values, what the graph
// declares (dtype and shape from the model). Callers overwrite the inputs' states before inferring.
ValueStates initial_states(const Graph& g);

// Infers every node in order, filling `states` for all node outputs.
Status infer_graph(const Graph& g, ValueStates& states, const InferenceOptions& options);

// Writes inferred dtypes and shapes into the graph's Values (where inference knows more).
void apply_states(Graph& g, const ValueStates& states);

}  // namespace kiln
