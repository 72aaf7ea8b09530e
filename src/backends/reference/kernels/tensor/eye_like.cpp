#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

Status ref_eye_like(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 2) return ctx.error(fmt::format("input must be 2-D, got {}", x.describe()));
  DataType dt = x.dtype();
  if (ctx.attrs().has("dtype")) dt = static_cast<DataType>(ctx.attrs().get_int("dtype", 0));
  const int64_t k = ctx.attrs().get_int("k", 0);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, x.shape()));
  return dispatch_all(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y->data_as<T>();
    const int64_t rows = x.dim(0), cols = x.dim(1);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        out[i * cols + j] = static_cast<T>(static_cast<compute_t<T>>(j - i == k ? 1 : 0));
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
