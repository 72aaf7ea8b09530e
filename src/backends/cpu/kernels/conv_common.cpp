// Conv and kiln.FusedConv on oneDNN's convolution_forward (2-D, f32; activations nchw, or nhwc
// for a FusedConv with channels_last, which is what oneDNN's fastest f32 convolutions read).
//
//   Y = post_activation(activation(conv(X, W) + B) + Z)
//
// B is the primitive's bias (added in the accumulator, as the reference Conv adds it); the
// activations are eltwise post-ops and Z a sum post-op: the primitive accumulates into Y holding
// Z, which the planner arranges by giving Y Z's buffer when Z dies here (else Z is copied in).
// Padding comes from kiln's own conv geometry (conv_util.h), so auto_pad is handled exactly as in
// shape inference and the reference kernel. Constant weights are
// reordered once per shape signature into the layout the primitive prefers (load-time memory held
// by the kernel) unless the engine holds them packed from build time (DnnlKernel::pack); weights
// fed at run time are read in plain oihw/goihw. A bf16 layer converts X to bf16 before the product.
#include <algorithm>

#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "ir/ops/linalg/conv_util.h"
#include "ir/shape.h"

namespace kiln::cpu {

namespace {

constexpr int kSpatial = 2;

bool read_fused_activations(const Attributes& attrs, ActivationAttr& act, ActivationAttr& post) {
  auto a = read_activation_attr(attrs, "activation");
  auto p = read_activation_attr(attrs, "post_activation");
  if (!a.ok() || !p.ok()) return false;
  act = *a;
  post = *p;
  return activation_expressible(act) && activation_expressible(post);
}

class ConvKernel final : public DnnlKernel {
 public:
  ConvKernel(const Node& n, bool fused, bool channels_last, ActivationAttr act, ActivationAttr post)
      : DnnlKernel(fused ? ref_fused_conv : ref_conv, n), fused_(fused), channels_last_(channels_last), act_(act), post_(post) {}
  // The residual Z is summed into Y by the primitive, so Y may live in Z's buffer: no copy then.
  int inplace_input() const override { return fused_ ? 3 : -1; }

 protected:
  DnnlPlan make_plan(KernelContext& ctx) const override {
    using dims = dnnl::memory::dims;
    DnnlPlan plan;
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* z = fused_ && ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    if (!x || !w || x->rank() != 4 || w->rank() != 4) return plan;
    for (const Tensor* t : {x, w, b, z}) {
      if (t && t->dtype() != DataType::kFloat32) return plan;
    }
    // oneDNN's dims are always N, C, H, W; channels-last is a memory format of those dims.
    const Dims xd = channels_last_ ? channels_first_shape(x->shape()) : x->shape();
    auto params = read_conv_params(ctx.attrs(), kSpatial, {w->dim(2), w->dim(3)}, false);
    if (!params.ok()) return plan;
    const ConvParams& p = *params;
    const int64_t N = xd[0], C = xd[1], M = w->dim(0), G = p.group;
    if (G < 1 || C != w->dim(1) * G || M % G != 0) return plan;  // the reference reports it
    dims strides(kSpatial), dilates(kSpatial), pad_l(kSpatial), pad_r(kSpatial), out(kSpatial);
    for (int i = 0; i < kSpatial; ++i) {
      const int64_t in = xd[2 + i], k = w->dim(2 + i);
      auto d = conv_output_dim(p, static_cast<size_t>(i), in);
      if (!d.ok() || d->out <= 0 || d->pad_begin < 0) return plan;
      const int64_t s = p.strides[i], dil = p.dilations[i];
      strides[i] = s;
      dilates[i] = dil - 1;  // oneDNN counts the gaps between taps
      pad_l[i] = d->pad_begin;
      pad_r[i] = dnnl_end_pad(in, d->out, k, s, dil, d->pad_begin);
      out[i] = d->out;
    }
    const Dims out_dims = channels_last_ ? Dims{N, out[0], out[1], M} : Dims{N, M, out[0], out[1]};
    if (b && (b->rank() != 1 || b->dim(0) != M)) return plan;
    if (z && z->shape() != out_dims) return plan;
    for (int64_t v : out_dims) {
      if (v == 0) return plan;
    }
    if (x->numel() == 0 || w->numel() == 0) return plan;

    const dnnl::engine& eng = dnnl_cpu_engine();
    const dims w_dims = G > 1 ? dims{G, M / G, C / G, w->dim(2), w->dim(3)} : dims{M, C, w->dim(2), w->dim(3)};
    const dnnl::memory::desc src_md = activation_f32_desc({N, C, xd[2], xd[3]}, channels_last_);
    const dnnl::memory::desc dst_md = activation_f32_desc({N, M, out[0], out[1]}, channels_last_);
    const dnnl::memory::desc w_plain = plain_f32_desc(w_dims);
    const bool w_constant = ctx.node().input(1) && ctx.node().input(1)->is_constant();
    // bf16 layers: bf16 source and weights, fp32 accumulation, bias and output (constant weights only).
    const bool bf16_product = bf16() && w_constant;
    const dnnl::memory::desc w_any(w_dims, bf16_product ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32,
                                   dnnl::memory::format_tag::any);
    const dnnl::memory::desc bias_md = plain_f32_desc({M});

    dnnl::post_ops ops;
    append_activation(ops, act_);
    if (z) ops.append_sum(1.f);
    append_activation(ops, post_);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

    using conv = dnnl::convolution_forward;
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto alg = dnnl::algorithm::convolution_direct;
    const dnnl::memory::desc& w_md = w_constant ? w_any : w_plain;
    const dnnl::memory::desc conv_src_md = bf16_product ? compute_src_desc(plan, src_md) : src_md;
    const conv::desc desc = b ? conv::desc(kind, alg, conv_src_md, w_md, bias_md, dst_md, strides, dilates, pad_l, pad_r)
                              : conv::desc(kind, alg, conv_src_md, w_md, dst_md, strides, dilates, pad_l, pad_r);
    const conv::primitive_desc pd(desc, attr, eng);

    plan.prim = conv(pd);
    plan.src_md = src_md;
    plan.dst_md = dst_md;
    plan.wei_md = w_plain;
    plan.bias_md = bias_md;
    plan.bias_input = b ? 2 : -1;
    plan.scratch_md = pd.scratchpad_desc();
    if (w_constant) {
      // Weights in the primitive's preferred blocked layout: packed at build time, or once here.
      plan.weights = constant_weights(w_plain, pd.weights_desc(), w->data());
    }
    plan.copy_residual_to_dst = z != nullptr;
    plan.residual_input = z ? 3 : -1;
    plan.out_dims = out_dims;
    plan.ok = true;
    return plan;
  }

 private:
  bool fused_;
  bool channels_last_;  // X, Z and Y are N×H×W×C (kiln.FusedConv channels_last = 1)
  ActivationAttr act_, post_;
};

}  // namespace

bool conv_supported(const Node& n, bool fused) {
  std::vector<int> ranks;
  if (!node_inputs_f32(n, ranks)) return false;
  if (ranks.size() < 2 || ranks[0] != 4 || ranks[1] != 4) return false;  // 2-D convolution only
  if (ranks.size() > 2 && ranks[2] != -1 && ranks[2] != 1) return false;
  if (fused) {
    if (ranks.size() > 3 && ranks[3] != -1 && ranks[3] != 4) return false;
    ActivationAttr act, post;
    if (!read_fused_activations(n.attrs, act, post)) return false;
  }
  return read_conv_params(n.attrs, kSpatial, {-1, -1}, false).ok();
}

Result<std::unique_ptr<Kernel>> make_conv_kernel(const Node& n, bool fused) {
  ActivationAttr act, post;
  if (fused && !read_fused_activations(n.attrs, act, post)) {
    return invalid_argument(n.describe() + ": activation attributes the cpu backend cannot express");
  }
  const bool channels_last = fused && n.attrs.get_int("channels_last", 0) == 1;
  return std::unique_ptr<Kernel>(std::make_unique<ConvKernel>(n, fused, channels_last, act, post));
}

}  // namespace kiln::cpu
