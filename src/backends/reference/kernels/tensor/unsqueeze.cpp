#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_unsqueeze(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  std::vector<int64_t> axes;
  if (ctx.node().opset < 13) {
    KILN_ASSIGN_OR_RETURN(axes, with_node_result(ctx, ctx.attrs().require_ints("axes")));
  } else {
    KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 1, "axes"));
  }
  const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(axes, out_rank)));
  Dims out;
  size_t k = 0;
  int64_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (k < na.size() && na[k] == i) {
      out.push_back(1);
      ++k;
    } else {
      out.push_back(x.dim(j++));
    }
  }
  return copy_with_shape(ctx, x, out);
}

}  // namespace kiln
