#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_transpose(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(auto perm, with_node_result(ctx, transpose_perm(ctx.attrs().get_ints("perm"), x.shape().size())));
  Dims out;
  for (int64_t p : perm) out.push_back(x.dim(p));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  transpose_elements(x.data(), x.shape(), dtype_size(x.dtype()), y->data(), perm);
  return ok_status();
}

}  // namespace kiln
