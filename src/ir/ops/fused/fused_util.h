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

}  // namespace kiln
