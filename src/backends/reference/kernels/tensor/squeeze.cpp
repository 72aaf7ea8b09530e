#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_squeeze(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  std::optional<std::vector<int64_t>> axes;
  if (ctx.node().opset < 13) {
    if (ctx.attrs().has("axes")) axes = ctx.attrs().get_ints("axes");
  } else if (ctx.has_input(1)) {
    KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 1, "axes"));
  }
  Dims out;
  if (!axes) {
    for (int64_t d : x.shape()) {
      if (d != 1) out.push_back(d);
    }
  } else {
    KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(*axes, x.rank())));
    size_t k = 0;
    for (int64_t i = 0; i < x.rank(); ++i) {
      if (k < na.size() && na[k] == i) {
        ++k;
        if (x.dim(i) != 1) return ctx.error(fmt::format("cannot squeeze axis {} of size {}", i, x.dim(i)));
        continue;
      }
      out.push_back(x.dim(i));
    }
  }
  return copy_with_shape(ctx, x, out);
}

}  // namespace kiln
