// The fused family: the ops kiln's optimizer produces (docs/fused_ops.md), in the "kiln" domain,
// opset 1. Each op's schema lives in its own file here. This header also holds what the schemas
// and the reference kernels both read from a node's attributes (activations, FusedPointwise's
// steps), so that inference and kernels always agree on what a node means.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/activation.h"
#include "ir/attribute.h"
#include "ir/op_schema.h"

namespace kiln {

inline constexpr const char* kKilnDomain = "kiln";

void register_fused_conv(OpRegistry& r);
void register_fused_matmul(OpRegistry& r);
void register_fused_pointwise(OpRegistry& r);
void register_attention(OpRegistry& r);
void register_rms_normalization(OpRegistry& r);
void register_kiln_max_pool(OpRegistry& r);
void register_device_copies(OpRegistry& r);  // kiln.CopyToDevice, kiln.CopyToHost

// One activation of a FusedConv/FusedMatMul node: `<name>`, `<name>_alpha`, `<name>_beta`.
struct ActivationAttr {
  Activation kind = Activation::kNone;
  float alpha = 0;
  float beta = 0;
};

// Reads the activation attributes with prefix `name` ("activation" or "post_activation"). An
// absent parameter takes the ONNX op's default (default_activation_params). Errors are plain
// messages naming the attribute (callers prefix the node).
Result<ActivationAttr> read_activation_attr(const Attributes& attrs, const std::string& name);

// Checks a FusedConv/FusedMatMul node's `activation` and `post_activation` attributes; the error
// names the node and the attribute.
Status check_activation_attrs(const InferenceContext& ctx);

// What one FusedPointwise step computes.
enum class PointwiseKind {
  kActivation,  // any activation name (Relu, Sigmoid and Tanh included)
  kExp,
  kLog,
  kSqrt,
  kNeg,
  kAbs,
  kErf,
  kReciprocal,
  kFloor,
  kCeil,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMax,
  kMin,
};

struct PointwiseStep {
  PointwiseKind kind = PointwiseKind::kActivation;
  Activation activation = Activation::kNone;  // for kActivation
  size_t operand = 0;                         // binary steps: the other operand's input index
  bool swapped = false;                       // binary steps: v is the right-hand operand
  float alpha = 0;
  float beta = 0;
  bool binary() const { return kind >= PointwiseKind::kAdd; }
};

// The backends' elementwise kernels name their ops in enums of their own (cpu/kernels/pointwise.h,
// cuda/kernels/pointwise.h; the CUDA one stays free of IR headers for nvcc) with the same member
// names: a UnaryOp {kind, alpha, beta} whose kind is kIdentity, one per activation, kExp..kCeil;
// a binary kind kAdd..kMin. These two map an activation and a FusedPointwise step to either, so
// that what a step means is written once.

// The activation `a` as the backend's unary op, with its parameters as given.
template <typename UnaryOp>
UnaryOp unary_op_for_activation(Activation a, float alpha, float beta) {
  using Kind = decltype(UnaryOp::kind);
  UnaryOp op;
  op.alpha = alpha;
  op.beta = beta;
  switch (a) {
    case Activation::kNone:
      op.kind = Kind::kIdentity;
      break;
    case Activation::kRelu:
      op.kind = Kind::kRelu;
      break;
    case Activation::kLeakyRelu:
      op.kind = Kind::kLeakyRelu;
      break;
    case Activation::kClip:
      op.kind = Kind::kClip;
      break;
    case Activation::kSigmoid:
      op.kind = Kind::kSigmoid;
      break;
    case Activation::kTanh:
      op.kind = Kind::kTanh;
      break;
    case Activation::kHardSigmoid:
      op.kind = Kind::kHardSigmoid;
      break;
    case Activation::kHardSwish:
      op.kind = Kind::kHardSwish;
      break;
    case Activation::kSilu:
      op.kind = Kind::kSilu;
      break;
    case Activation::kGelu:
      op.kind = Kind::kGelu;
      break;
    case Activation::kGeluTanh:
      op.kind = Kind::kGeluTanh;
      break;
  }
  return op;
}

// Step `s` in the backend's terms: a unary step sets *unary (an activation with its parameters,
// a math op with the default ones), a binary step sets *binary; the other is left as it is.
template <typename UnaryOp, typename BinaryKind>
void pointwise_step_ops(const PointwiseStep& s, UnaryOp* unary, BinaryKind* binary) {
  using Kind = decltype(UnaryOp::kind);
  switch (s.kind) {
    case PointwiseKind::kActivation:
      *unary = unary_op_for_activation<UnaryOp>(s.activation, s.alpha, s.beta);
      break;
    case PointwiseKind::kExp:
      unary->kind = Kind::kExp;
      break;
    case PointwiseKind::kLog:
      unary->kind = Kind::kLog;
      break;
    case PointwiseKind::kSqrt:
      unary->kind = Kind::kSqrt;
      break;
    case PointwiseKind::kNeg:
      unary->kind = Kind::kNeg;
      break;
    case PointwiseKind::kAbs:
      unary->kind = Kind::kAbs;
      break;
    case PointwiseKind::kErf:
      unary->kind = Kind::kErf;
      break;
    case PointwiseKind::kReciprocal:
      unary->kind = Kind::kReciprocal;
      break;
    case PointwiseKind::kFloor:
      unary->kind = Kind::kFloor;
      break;
    case PointwiseKind::kCeil:
      unary->kind = Kind::kCeil;
      break;
    case PointwiseKind::kAdd:
      *binary = BinaryKind::kAdd;
      break;
    case PointwiseKind::kSub:
      *binary = BinaryKind::kSub;
      break;
    case PointwiseKind::kMul:
      *binary = BinaryKind::kMul;
      break;
    case PointwiseKind::kDiv:
      *binary = BinaryKind::kDiv;
      break;
    case PointwiseKind::kPow:
      *binary = BinaryKind::kPow;
      break;
    case PointwiseKind::kMax:
      *binary = BinaryKind::kMax;
      break;
    case PointwiseKind::kMin:
      *binary = BinaryKind::kMin;
      break;
  }
}

// Reads and validates a FusedPointwise node's steps (`ops`, `operands`, `swapped`, `alphas`,
// `betas`) for a node with `num_inputs` inputs. Errors are plain messages naming the attribute
// and the step (callers prefix the node).
Result<std::vector<PointwiseStep>> read_pointwise_steps(const Attributes& attrs, size_t num_inputs);

// Every present input i (named names[i]; inputs past the list are named "E<i>") must be float32,
// float64, float16 or bfloat16, all of input 0's dtype. The error names the node and the input.
Status check_float_inputs(const InferenceContext& ctx, const std::vector<std::string>& names);

// An error unless `operand` broadcasts (numpy rules) to `out` without enlarging it: its rank is at
// most out's and each of its dims is 1 or out's dim. Symbols pass where they cannot be decided.
// `what` names the input ("input 2 'bias'"); the error names the node.
Status check_broadcasts_into(const InferenceContext& ctx, const MaybeShape& operand, const MaybeShape& out,
                             const std::string& what);

// kiln.Attention's mask (rank <= 4) read as the scores [B, H, Sq, Sk]: the element strides of a
// dense mask of shape `mask` along each of the four dims, its dims aligned right and 0 where it
// has 1 (it broadcasts). False when it does not broadcast to `scores`.
bool attention_mask_strides(const Dims& mask, const int64_t scores[4], int64_t strides[4]);

}  // namespace kiln
