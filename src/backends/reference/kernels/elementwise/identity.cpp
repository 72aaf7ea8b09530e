#include <cstring>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"

namespace kiln {

Status ref_identity(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  if (x.nbytes() > 0) std::memcpy(y->data(), x.data(), x.nbytes());
  return ok_status();
}

}  // namespace kiln
