// Reference kernels of the fused family (the kiln-domain ops the optimizer produces, see
// docs/fused_ops.md), and the epilogue they share. Each kernel runs the existing reference code
// of the op it extends (the conv loops, the matmul loops) and then applies the fused steps in place
// on the output buffer, each step computed and rounded to the output dtype exactly as the unfused
// op would, so a fused node differs from the unfused graph by rounding at most.
#pragma once

#include <vector>

#include "backends/kernel.h"
#include "backends/reference/ref_util.h"
#include "core/activation.h"
#include "core/dispatch.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln {

Status ref_fused_conv(KernelContext& ctx);
Status ref_fused_matmul(KernelContext& ctx);
Status ref_fused_pointwise(KernelContext& ctx);
Status ref_attention(KernelContext& ctx);
Status ref_rms_normalization(KernelContext& ctx);
Status ref_kiln_max_pool(KernelContext& ctx);  // kiln.MaxPool

// Input i, or an error naming it when it is missing.
Result<const Tensor*> fused_required_input(const KernelContext& ctx, size_t i, const char* name);
// A channels_last = 1 node run by a channels-first kernel: X (input 0, N × spatial… × C) and the
// listed inputs of X's rank are permuted to N × C × spatial…, `channels_first` computes output 0
// from those copies, and its result is permuted back into the node's output (a copy each way:
// this is the oracle, not the fast path).
Status run_channels_first(KernelContext& ctx, const std::vector<size_t>& permuted_inputs, KernelFn channels_first);

// An error unless every present input in [0, count) has a float dtype equal to input 0's.
Status fused_check_dtypes(const KernelContext& ctx, size_t count);

// An error unless t (when present) broadcasts to `out` without enlarging it.
// Does a tensor of dims `d` broadcast to `out` without enlarging it?
bool fused_fits(const Dims& d, const Dims& out);
Status fused_check_fits(const KernelContext& ctx, const Tensor* t, const Dims& out, const char* what);

// What follows the main computation of FusedConv / FusedMatMul:
//   y = post(act(y + bias) + residual)
// bias and residual broadcast to y (checked by the caller); either may be null.
struct Epilogue {
  const Tensor* bias = nullptr;
  ActivationAttr act;
  const Tensor* residual = nullptr;
  ActivationAttr post;
};

// Reads the node's activation and post_activation attributes into e.
Status read_epilogue_activations(const KernelContext& ctx, Epilogue& e);

// Applies e in place on y (element type T). Each step rounds to T, as the unfused Add and
// activation ops each store a T tensor.
template <typename T>
void apply_epilogue(const Epilogue& e, Tensor& y) {
  using C = compute_t<T>;
  T* yp = y.data_as<T>();
  const T* bp = e.bias ? e.bias->data_as<T>() : nullptr;
  const T* zp = e.residual ? e.residual->data_as<T>() : nullptr;
  const Dims none;  // an absent operand: a scalar view, never read
  const std::vector<Dims> operands = {e.bias ? e.bias->shape() : none, e.residual ? e.residual->shape() : none};
  for_each_broadcast(y.shape(), operands, [&](int64_t i, const std::vector<int64_t>& off) {
    T v = yp[i];
    if (bp) v = static_cast<T>(static_cast<C>(v) + static_cast<C>(bp[off[0]]));
    if (e.act.kind != Activation::kNone) {
      v = static_cast<T>(apply_activation_as<T>(e.act.kind, static_cast<C>(v), e.act.alpha, e.act.beta));
    }
    if (zp) v = static_cast<T>(static_cast<C>(v) + static_cast<C>(zp[off[1]]));
    if (e.post.kind != Activation::kNone) {
      v = static_cast<T>(apply_activation_as<T>(e.post.kind, static_cast<C>(v), e.post.alpha, e.post.beta));
    }
    yp[i] = v;
  });
}

}  // namespace kiln
