// What `kiln inspect` says about a layer beyond its op: a short, human-readable summary of what
// a fused op folded in, read back from its attributes (docs/fused_ops.md), so a reader can tell
// a plain `kiln.FusedConv` from one that also carries a bias, a residual add and a Relu.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln {

// "kiln.FusedConv" for ops outside ai.onnx, "Conv" for ai.onnx ops.
std::string layer_op_name(const Node& n);

// The fused-in parts of a layer, e.g. "bias+add+Relu" (FusedConv with bias, residual and
// post-activation), "transB bias+Gelu" (FusedMatMul), "Mul>Add>Relu" (FusedPointwise steps),
// "heads=12 mask" (Attention), "tanh" (Gelu). Empty for ops with nothing fused in.
std::string layer_detail(const Node& n);

}  // namespace kiln
