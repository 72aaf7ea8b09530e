// MaxPool (one output) and kiln.MaxPool on oneDNN's pooling primitive: 2-D, f32, plain nchw or,
// for kiln.MaxPool with channels_last, nhwc. Windows come from kiln's own pool geometry (so
// auto_pad and ceil_mode are handled as inference and the reference handle them); padded taps
// never win a max, which is what ONNX specifies.
#include <algorithm>

#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "ir/ops/pool_norm/pool_geometry.h"
#include "ir/shape.h"

namespace kiln::cpu {

namespace {

constexpr int kSpatial = 2;

class MaxPoolKernel final : public DnnlKernel {
 public:
  MaxPoolKernel(const Node& n, bool kiln_op, bool channels_last)
      : DnnlKernel(kiln_op ? ref_kiln_max_pool : ref_max_pool, n), channels_last_(channels_last) {}

 protected:
  DnnlPlan make_plan(KernelContext& ctx) const override {
    using dims = dnnl::memory::dims;
    DnnlPlan plan;
    plan.has_weights = false;
    const Tensor* x = ctx.input(0);
    if (!x || x->rank() != 4 || x->dtype() != DataType::kFloat32 || x->numel() == 0) return plan;
    const Dims xd = channels_last_ ? channels_first_shape(x->shape()) : x->shape();
    auto geom = pool_geometry(ctx.attrs(), {xd[2], xd[3]});
    if (!geom.ok()) return plan;  // the reference reports it
    const PoolGeometry& g = *geom;
    dims kernel(kSpatial), strides(kSpatial), dilation(kSpatial), pad_l(kSpatial), pad_r(kSpatial), out(kSpatial);
    bool dilated = false;
    for (int i = 0; i < kSpatial; ++i) {
      if (g.out[i] <= 0 || g.pad_begin[i] < 0) return plan;
      kernel[i] = g.kernel[i];
      strides[i] = g.strides[i];
      dilation[i] = g.dilations[i] - 1;  // oneDNN counts the gaps between taps
      dilated |= g.dilations[i] != 1;
      pad_l[i] = g.pad_begin[i];
      pad_r[i] = dnnl_end_pad(xd[2 + i], g.out[i], g.kernel[i], g.strides[i], g.dilations[i], g.pad_begin[i]);
      out[i] = g.out[i];
      // oneDNN requires every window to touch the input (pads smaller than the window).
      if (pad_l[i] >= (g.kernel[i] - 1) * g.dilations[i] + 1 || pad_r[i] >= (g.kernel[i] - 1) * g.dilations[i] + 1) return plan;
    }
    const dnnl::memory::desc src_md = activation_f32_desc({xd[0], xd[1], xd[2], xd[3]}, channels_last_);
    const dnnl::memory::desc dst_md = activation_f32_desc({xd[0], xd[1], out[0], out[1]}, channels_last_);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto kind = dnnl::prop_kind::forward_inference;
    const dnnl::engine& eng = dnnl_cpu_engine();
    if (dilated) {
      const dnnl::pooling_v2_forward::desc d(kind, dnnl::algorithm::pooling_max, src_md, dst_md, strides, kernel, dilation, pad_l, pad_r);
      const dnnl::pooling_v2_forward::primitive_desc pd(d, attr, eng);
      plan.prim = dnnl::pooling_v2_forward(pd);
      plan.scratch_md = pd.scratchpad_desc();
    } else {
      const dnnl::pooling_forward::desc d(kind, dnnl::algorithm::pooling_max, src_md, dst_md, strides, kernel, pad_l, pad_r);
      const dnnl::pooling_forward::primitive_desc pd(d, attr, eng);
      plan.prim = dnnl::pooling_forward(pd);
      plan.scratch_md = pd.scratchpad_desc();
    }
    plan.src_md = src_md;
    plan.dst_md = dst_md;
    plan.out_dims = channels_last_ ? Dims{xd[0], out[0], out[1], xd[1]} : Dims{xd[0], xd[1], out[0], out[1]};
    plan.ok = true;
    return plan;
  }

 private:
  bool channels_last_;
};

bool max_pool_supported(const Node& n, bool kiln_op) {
  std::vector<int> ranks;
  if (!node_inputs_f32(n, ranks) || ranks.size() != 1 || ranks[0] != 4) return false;
  // The indices output and column-major indices are the reference's.
  if (n.num_outputs() > 1 && n.output(1)) return false;
  if (n.attrs.get_int("storage_order", 0) != 0) return false;
  if (kiln_op) {
    const int64_t cl = n.attrs.get_int("channels_last", 0);
    if (cl != 0 && cl != 1) return false;
  }
  return pool_geometry(n.attrs, {-1, -1}).ok();
}

}  // namespace

KernelEntry max_pool_entry() {
  KernelEntry e;
  e.op_type = "MaxPool";
  e.name = "dnnl_max_pool";
  e.supports = [](const Node& n) { return max_pool_supported(n, false); };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<MaxPoolKernel>(n, false, false)); };
  return e;
}

KernelEntry kiln_max_pool_entry() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "MaxPool";
  e.name = "dnnl_max_pool";
  e.supports = [](const Node& n) { return max_pool_supported(n, true); };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<MaxPoolKernel>(n, true, n.attrs.get_int("channels_last", 0) == 1));
  };
  return e;
}

}  // namespace kiln::cpu
