#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_constant(KernelContext& ctx) {
  auto t = constant_tensor(ctx.attrs());
  if (!t.ok()) {
    if (t.status().code() == StatusCode::kUnsupported) return ctx.unsupported_error(t.status().message());
    return ctx.error(t.status().message());
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, t->dtype(), t->shape()));
  if (t->nbytes()) std::memcpy(y->data(), t->data(), t->nbytes());
  return ok_status();
}

}  // namespace kiln
