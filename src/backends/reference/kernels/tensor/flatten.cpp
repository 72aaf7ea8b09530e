#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_flatten(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -rank || axis > rank) {
    return ctx.error(fmt::format("axis {} is out of range for rank {} (expected [-r, r])", axis, rank));
  }
  if (axis < 0) axis += rank;
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? a : b) *= x.dim(i);
  return copy_with_shape(ctx, x, {a, b});
}

}  // namespace kiln
