#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

// As ONNX defines it: a reshape to 6-D, a transpose, a reshape back to 4-D.
Status ref_space_to_depth(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 4) return ctx.error(fmt::format("input must be 4-D, got {}", x.describe()));
  const int64_t b = ctx.attrs().get_int("blocksize", 0);
  if (b <= 0) return ctx.error(fmt::format("blocksize must be positive, got {}", b));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (h % b != 0 || w % b != 0) {
    return ctx.error(fmt::format("spatial dims {}x{} are not divisible by blocksize {}", h, w, b));
  }
  int64_t bb = 0, cbb = 0;
  if (__builtin_mul_overflow(b, b, &bb) || __builtin_mul_overflow(c, bb, &cbb)) {
    return ctx.error(fmt::format("blocksize {} is too large", b));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), {n, cbb, h / b, w / b}));
  transpose_elements(x.data(), {n, c, h / b, b, w / b, b}, dtype_size(x.dtype()), y->data(), {0, 3, 5, 1, 2, 4});
  return ok_status();
}

}  // namespace kiln
