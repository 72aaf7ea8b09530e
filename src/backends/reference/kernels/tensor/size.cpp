#include "backends/reference/kernels/tensor/tensor_kernels.h"

namespace kiln {

Status ref_size(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {}));
  *y->data_as<int64_t>() = x.numel();
  return ok_status();
}

}  // namespace kiln
