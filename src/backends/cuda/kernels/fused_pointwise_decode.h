// Host only: a kiln.FusedPointwise node's steps (read_pointwise_steps, ir/ops/fused/fused_util.h)
// as the CUDA kernel's program (fused_pointwise.h), and the activations of core/activation.h as
// CUDA unary ops. Kept apart from fused_pointwise.h so that nvcc never compiles the IR headers.
#pragma once

#include <vector>

#include "backends/cuda/kernels/fused_pointwise.h"
#include "core/activation.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

// The activation `a` as a unary op, with its parameters as given.
inline UnaryOp unary_from_activation(Activation a, float alpha, float beta) {
  return unary_op_for_activation<UnaryOp>(a, alpha, beta);
}

// The program of `steps`; false when there are more than kMaxFusedSteps steps or a step reads an
// operand beyond E{kMaxFusedOperands} (such nodes run another kernel).
inline bool decode_fused_pointwise(const std::vector<PointwiseStep>& steps,
                                   FusedPointwiseProgram* program) {
  if (steps.size() > static_cast<size_t>(kMaxFusedSteps)) return false;
  FusedPointwiseProgram p;
  p.num_steps = static_cast<int>(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const PointwiseStep& s = steps[i];
    FusedStep& d = p.steps[i];
    if (s.binary()) {
      if (s.operand < 1 || s.operand > static_cast<size_t>(kMaxFusedOperands)) return false;
      d.operand = static_cast<uint8_t>(s.operand);
      d.swapped = s.swapped ? 1 : 0;
    }
    pointwise_step_ops(s, &d.unary, &d.binary);
  }
  *program = p;
  return true;
}

}  // namespace kiln::cuda
