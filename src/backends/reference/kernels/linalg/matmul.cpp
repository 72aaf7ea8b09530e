#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln {

Status ref_matmul(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (a.dtype() != b.dtype()) return ctx.error("inputs A and B have different dtypes");
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(ctx, a.shape(), b.shape()));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a.dtype(), s.out));
  return dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    std::vector<A> c(static_cast<size_t>(y->numel()));
    matmul_acc<T>(s, a.data_as<T>(), b.data_as<T>(), c.data());
    T* out = y->data_as<T>();
    for (size_t i = 0; i < c.size(); ++i) out[i] = from_acc<T>(c[i]);
    return ok_status();
  });
}

}  // namespace kiln
