#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_shape(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  int64_t start = 0, end = x.rank();
  if (ctx.node().opset >= 15) {
    start = ctx.attrs().get_int("start", 0);
    end = ctx.attrs().get_int("end", x.rank());
  }
  const auto [b, e] = shape_range(start, end, x.rank());
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {e - b}));
  for (int64_t i = b; i < e; ++i) y->data_as<int64_t>()[i - b] = x.dim(i);
  return ok_status();
}

}  // namespace kiln
