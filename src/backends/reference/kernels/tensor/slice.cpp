#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_slice(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  std::vector<int64_t> starts, ends;
  std::optional<std::vector<int64_t>> axes, steps;
  if (ctx.node().opset < 10) {
    KILN_ASSIGN_OR_RETURN(starts, with_node_result(ctx, ctx.attrs().require_ints("starts")));
    KILN_ASSIGN_OR_RETURN(ends, with_node_result(ctx, ctx.attrs().require_ints("ends")));
    if (ctx.attrs().has("axes")) axes = ctx.attrs().get_ints("axes");
  } else {
    KILN_ASSIGN_OR_RETURN(starts, ints_input(ctx, 1, "starts"));
    KILN_ASSIGN_OR_RETURN(ends, ints_input(ctx, 2, "ends"));
    if (ctx.has_input(3)) {
      KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 3, "axes"));
    }
    if (ctx.has_input(4)) {
      KILN_ASSIGN_OR_RETURN(steps, ints_input(ctx, 4, "steps"));
    }
  }
  KILN_ASSIGN_OR_RETURN(SliceSpec spec, with_node_result(ctx, make_slice_spec(starts, ends, axes, steps, x.rank())));
  Dims out = x.shape();
  std::vector<SliceAxis> per(out.size());
  for (size_t d = 0; d < out.size(); ++d) per[d] = SliceAxis{0, 1, out[d]};
  for (size_t i = 0; i < spec.axes.size(); ++i) {
    const size_t a = static_cast<size_t>(spec.axes[i]);
    per[a] = slice_axis(out[a], spec.starts[i], spec.ends[i], spec.steps[i]);
    out[a] = per[a].count;
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  if (y->numel() == 0) return ok_status();
  std::vector<std::vector<int64_t>> maps(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    for (int64_t c = 0; c < out[d]; ++c) maps[d].push_back(per[d].start + c * per[d].step);
  }
  gather_by_axis_maps(x.data(), x.shape(), dtype_size(x.dtype()), y->data(), out, maps, nullptr);
  return ok_status();
}

}  // namespace kiln
