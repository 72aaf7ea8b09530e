#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_center_crop_pad(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(auto shape, ints_input(ctx, 1, "shape"));
  const int64_t rank = x.rank();
  std::vector<int64_t> axes = ctx.attrs().get_ints("axes");
  if (!ctx.attrs().has("axes")) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(axes, rank)));
  (void)na;
  if (shape.size() != axes.size()) {
    return ctx.error(fmt::format("input 1 'shape' has {} values, expected {} (one per axis)", shape.size(), axes.size()));
  }
  Dims out = x.shape();
  std::vector<int64_t> offset(static_cast<size_t>(rank), 0);  // input coord = output coord + offset
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(axes[i] < 0 ? axes[i] + rank : axes[i]);
    if (shape[i] < 0) return ctx.error(fmt::format("shape[{}] is negative ({})", i, shape[i]));
    // Centered; an odd difference leaves the extra element at the end (floor of half).
    offset[a] = shape[i] <= out[a] ? (out[a] - shape[i]) / 2 : -((shape[i] - out[a]) / 2);
    out[a] = shape[i];
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  if (y->numel() == 0) return ok_status();
  std::vector<std::vector<int64_t>> maps(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    for (int64_t c = 0; c < out[d]; ++c) {
      const int64_t s = c + offset[d];
      maps[d].push_back(s >= 0 && s < x.dim(static_cast<int64_t>(d)) ? s : -1);
    }
  }
  gather_by_axis_maps(x.data(), x.shape(), dtype_size(x.dtype()), y->data(), out, maps, nullptr);
  return ok_status();
}

}  // namespace kiln
