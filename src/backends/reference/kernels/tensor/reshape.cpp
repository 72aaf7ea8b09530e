#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_reshape(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  std::vector<int64_t> shape;
  if (opset < 5) {
    KILN_ASSIGN_OR_RETURN(shape, with_node_result(ctx, ctx.attrs().require_ints("shape")));
  } else {
    KILN_ASSIGN_OR_RETURN(shape, ints_input(ctx, 1, "shape"));
  }
  const bool allowzero = opset >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  KILN_ASSIGN_OR_RETURN(SymShape out, with_node_result(ctx, reshape_output_shape(sym_shape(x.shape()), shape, allowzero)));
  return copy_with_shape(ctx, x, static_dims(out));
}

}  // namespace kiln
