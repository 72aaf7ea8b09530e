// kiln.Attention (docs/fused_ops.md) on kernels/attention.h for dense Q [B, Sq, H·Dh],
// K [B, Sk, H·Dh], V [B, Sk, H·Dv] of one dtype (float32, float16, bfloat16), with or without an
// additive mask of rank <= 4 broadcasting to [B, H, Sq, Sk] (padding masks [B, 1, 1, Sk], full
// [B, H, Sq, Sk], 2-D [Sq, Sk]) and causal masking. The kernel picks its tensor-core path (fp16/
// bf16, head dims multiples of 8 up to 256, aligned rows) or its fp32-arithmetic one itself.
// With qkv_packed = 1, Q, K and V are read in place from the one QKV [B, S, 3E] through its row
// stride 3E (packed_qkv_attention_problem): no Split, no copy. float64 and shapes inference
// cannot rank run the reference.
#include <cmath>

#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

namespace {

bool supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_inputs() > 4 || n.num_outputs() != 1 || !n.output(0)) return false;
  const int64_t packed = n.attrs.get_int("qkv_packed", 0);
  if (packed != 0 && packed != 1) return false;
  // Separate: Q, K, V of rank 3. Packed: QKV of rank 3 alone, K and V absent.
  const size_t tensors = packed == 1 ? 1 : 3;
  for (size_t i = 0; i < 3; ++i) {
    if (i >= tensors) {
      if (n.input(i)) return false;
    } else if (!n.input(i) || known_rank(n.input(i)) != std::optional<size_t>(3)) {
      return false;
    }
  }
  if (n.input(3) && !rank_at_most(n.input(3), 4)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || !node_float_types(n)) return false;
  const Attribute* heads = n.attrs.find("num_heads");
  if (!heads || heads->kind != Attribute::Kind::kInt || heads->i < 1) return false;
  const int64_t causal = n.attrs.get_int("causal", 0);
  if (causal != 0 && causal != 1) return false;
  const Attribute* scale = n.attrs.find("scale");
  return !scale || scale->kind == Attribute::Kind::kFloat;
}

class AttentionKernel final : public Kernel {
 public:
  explicit AttentionKernel(const Node& n)
      : heads_(n.attrs.get_int("num_heads", 1)),
        causal_(n.attrs.get_int("causal", 0) == 1),
        packed_(n.attrs.get_int("qkv_packed", 0) == 1),
        has_scale_(n.attrs.has("scale")),
        scale_(n.attrs.get_float("scale", 1.0f)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* mask = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    KILN_ASSIGN_OR_RETURN(AttentionProblem p, packed_ ? packed_problem(ctx) : separate_problem(ctx));
    const Tensor* first = ctx.input(0);
    if (mask && mask->dtype() != first->dtype()) {
      return ctx.error(fmt::format("input 3 'mask' {} is not of input 0's dtype", mask->describe()));
    }
    if (mask) KILN_RETURN_IF_ERROR(set_mask(ctx, *mask, {p.batch, p.heads, p.seq_q, p.seq_k}, p));
    // The default as the reference has it: 1/sqrt(Dh) in double, here rounded to float once.
    const int64_t Dh = p.head_dim;
    p.scale = has_scale_ ? scale_ : static_cast<float>(Dh > 0 ? 1.0 / std::sqrt(static_cast<double>(Dh)) : 1.0);
    p.causal = causal_;
    return launch_status(ctx, attention(p, first->dtype(), stream_of(ctx)));
  }

 private:
  Result<AttentionProblem> separate_problem(KernelContext& ctx) const {
    const Tensor* q = ctx.input(0);
    const Tensor* k = ctx.num_inputs() > 1 ? ctx.input(1) : nullptr;
    const Tensor* v = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    if (!q || !k || !v) return ctx.error("inputs 0 'Q', 1 'K' and 2 'V' are required");
    if (q->rank() != 3 || k->rank() != 3 || v->rank() != 3) {
      return ctx.error(fmt::format("Q {}, K {} and V {} must have rank 3", q->describe(), k->describe(), v->describe()));
    }
    const int64_t B = q->dim(0), Sq = q->dim(1), E = q->dim(2), Sk = k->dim(1), Ev = v->dim(2), H = heads_;
    if (k->dim(0) != B || v->dim(0) != B || v->dim(1) != Sk || k->dim(2) != E) {
      return ctx.error(fmt::format("Q {}, K {} and V {} disagree (expected [B, Sq, H*Dh], [B, Sk, H*Dh], [B, Sk, H*Dv])", q->describe(),
                                   k->describe(), v->describe()));
    }
    if (E % H != 0 || Ev % H != 0) {
      return ctx.error(
          fmt::format("the hidden sizes of Q {} and V {} must be divisible by num_heads {}", q->describe(), v->describe(), H));
    }
    for (const Tensor* t : {k, v}) {
      if (t->dtype() != q->dtype()) return ctx.error(fmt::format("input {} is not of Q's dtype", t->describe()));
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, q->dtype(), {B, Sq, Ev}));
    return dense_attention_problem(q->data(), k->data(), v->data(), y->data(), B, H, Sq, Sk, E / H, Ev / H);
  }

  // qkv_packed = 1: Q, K, V are columns [0, E), [E, 2E), [2E, 3E) of QKV [B, S, 3E].
  Result<AttentionProblem> packed_problem(KernelContext& ctx) const {
    const Tensor* qkv = ctx.input(0);
    if (!qkv) return ctx.error("input 0 'QKV' is required");
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (i < ctx.num_inputs() && ctx.input(i)) {
        return ctx.error(fmt::format("input {} must be absent with qkv_packed = 1 (Q, K and V are column ranges of input 0 'QKV')", i));
      }
    }
    if (qkv->rank() != 3 || qkv->dim(2) % 3 != 0 || (qkv->dim(2) / 3) % heads_ != 0) {
      return ctx.error(fmt::format("input 0 'QKV' {} must be [B, S, 3E] with E divisible by num_heads {} (qkv_packed = 1)",
                                   qkv->describe(), heads_));
    }
    const int64_t B = qkv->dim(0), S = qkv->dim(1), E = qkv->dim(2) / 3;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, qkv->dtype(), {B, S, E}));
    return packed_qkv_attention_problem(qkv->data(), y->data(), qkv->dtype(), B, heads_, S, E / heads_);
  }

  // The mask's strides viewed as [B, H, Sq, Sk]: its dims aligned right, 0 where it has 1.
  static Status set_mask(const KernelContext& ctx, const Tensor& mask, const Dims& scores, AttentionProblem& p) {
    if (mask.rank() > 4) return ctx.error(fmt::format("input 3 'mask' {} has rank > 4", mask.describe()));
    const size_t pad = 4 - mask.shape().size();
    int64_t stride = 1;
    for (size_t d = 4; d-- > 0;) {
      const int64_t len = d < pad ? 1 : mask.shape()[d - pad];
      if (len != 1 && len != scores[d]) {
        return ctx.error(fmt::format("input 3 'mask' {} does not broadcast to the scores [B, H, Sq, Sk] = {}", mask.describe(),
                                     dims_to_string(scores)));
      }
      p.mask_strides[d] = len == 1 ? 0 : stride;
      stride *= len;
    }
    p.mask = mask.data();
    return ok_status();
  }

  int64_t heads_;
  bool causal_;
  bool packed_;  // qkv_packed = 1
  bool has_scale_;
  float scale_;
};

}  // namespace

std::vector<KernelEntry> attention_entries() {
  return {node_entry<AttentionKernel>(kKilnDomain, "Attention", "cuda_attention", supported)};
}

}  // namespace kiln::cuda
