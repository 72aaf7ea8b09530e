// What the builder's steps after kernel choice share (the copy layers, the precision casts): adding
// a node that is already lowered.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln {

// A new node `domain`:`op_type` (opset `opset`, attributes `attrs`) inserted before `before`
// (nullptr: at the end), with its schema and the backend's kernel for it chosen as the builder
// chooses kernels (a host fallback's node names the fallback's backend). An internal error when
// the backend has no kernel for it: the callers add only nodes their backends take.
Result<Node*> insert_lowered_node(Graph& g, const Backend& backend, Node* before, const std::string& domain, const std::string& op_type,
                                  int opset, std::vector<Value*> inputs, std::vector<Value*> outputs, const std::string& name,
                                  const Attributes& attrs = {});

}  // namespace kiln
