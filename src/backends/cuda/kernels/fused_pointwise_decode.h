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
  UnaryOp op;
  op.alpha = alpha;
  op.beta = beta;
  switch (a) {
    case Activation::kNone:
      op.kind = UnaryKind::kIdentity;
      break;
    case Activation::kRelu:
      op.kind = UnaryKind::kRelu;
      break;
    case Activation::kLeakyRelu:
      op.kind = UnaryKind::kLeakyRelu;
      break;
    case Activation::kClip:
      op.kind = UnaryKind::kClip;
      break;
    case Activation::kSigmoid:
      op.kind = UnaryKind::kSigmoid;
      break;
    case Activation::kTanh:
      op.kind = UnaryKind::kTanh;
      break;
    case Activation::kHardSigmoid:
      op.kind = UnaryKind::kHardSigmoid;
      break;
    case Activation::kHardSwish:
      op.kind = UnaryKind::kHardSwish;
      break;
    case Activation::kSilu:
      op.kind = UnaryKind::kSilu;
      break;
    case Activation::kGelu:
      op.kind = UnaryKind::kGelu;
      break;
    case Activation::kGeluTanh:
      op.kind = UnaryKind::kGeluTanh;
      break;
  }
  return op;
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
    switch (s.kind) {
      case PointwiseKind::kActivation:
        d.unary = unary_from_activation(s.activation, s.alpha, s.beta);
        break;
      case PointwiseKind::kExp:
        d.unary.kind = UnaryKind::kExp;
        break;
      case PointwiseKind::kLog:
        d.unary.kind = UnaryKind::kLog;
        break;
      case PointwiseKind::kSqrt:
        d.unary.kind = UnaryKind::kSqrt;
        break;
      case PointwiseKind::kNeg:
        d.unary.kind = UnaryKind::kNeg;
        break;
      case PointwiseKind::kAbs:
        d.unary.kind = UnaryKind::kAbs;
        break;
      case PointwiseKind::kErf:
        d.unary.kind = UnaryKind::kErf;
        break;
      case PointwiseKind::kReciprocal:
        d.unary.kind = UnaryKind::kReciprocal;
        break;
      case PointwiseKind::kFloor:
        d.unary.kind = UnaryKind::kFloor;
        break;
      case PointwiseKind::kCeil:
        d.unary.kind = UnaryKind::kCeil;
        break;
      case PointwiseKind::kAdd:
        d.binary = BinaryOp::kAdd;
        break;
      case PointwiseKind::kSub:
        d.binary = BinaryOp::kSub;
        break;
      case PointwiseKind::kMul:
        d.binary = BinaryOp::kMul;
        break;
      case PointwiseKind::kDiv:
        d.binary = BinaryOp::kDiv;
        break;
      case PointwiseKind::kPow:
        d.binary = BinaryOp::kPow;
        break;
      case PointwiseKind::kMax:
        d.binary = BinaryOp::kMax;
        break;
      case PointwiseKind::kMin:
        d.binary = BinaryOp::kMin;
        break;
    }
  }
  *program = p;
  return true;
}

}  // namespace kiln::cuda
