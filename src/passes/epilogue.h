// Epilogue fusion, shared by fuse-conv-epilogue and fuse-matmul-epilogue: a layer (Conv, or
// MatMul/Gemm) absorbs what follows it: a bias Add, an activation, a residual Add and an
// activation after that, becoming one kiln.FusedConv / kiln.FusedMatMul (docs/fused_ops.md):
//     Y = post_activation(activation(layer + bias) + Z)
#pragma once

#include "passes/pattern.h"

namespace kiln {

enum class EpilogueLayer { kConv, kMatMul };

// One sweep over g; returns whether anything was fused.
Result<bool> fuse_epilogues(Graph& g, EpilogueLayer kind);

}  // namespace kiln
