// Helpers shared by the control-flow schemas (If, Loop, Scan).
#pragma once

#include <vector>

#include "ir/op_schema.h"

namespace kiln {

// Infers a body given its input states: through ctx.infer_subgraph when graph inference set it,
// else from what the body declares for its outputs.
Result<std::vector<ValueState>> infer_body(const InferenceContext& ctx, const Graph& body,
                                           const std::vector<ValueState>& inputs);

// The shape both a and b fit: equal dims kept, others unknown; nullopt if the ranks differ.
MaybeShape merge_shape(const MaybeShape& a, const MaybeShape& b);

}  // namespace kiln
