#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_trilu(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", x.describe()));
  int64_t k = 0;
  if (ctx.has_input(1)) {
    KILN_ASSIGN_OR_RETURN(auto kv, ints_input(ctx, 1, "k"));
    if (kv.size() != 1) return ctx.error(fmt::format("input 1 'k' must hold one value, has {}", kv.size()));
    k = kv[0];
  }
  const bool upper = ctx.attrs().get_int("upper", 1) != 0;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  const size_t esize = dtype_size(x.dtype());
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  const auto* src = static_cast<const unsigned char*>(x.data());
  auto* dst = static_cast<unsigned char*>(y->data());
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const size_t off = static_cast<size_t>((m * rows + i) * cols + j) * esize;
        const bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) std::memcpy(dst + off, src + off, esize);
        else std::memset(dst + off, 0, esize);
      }
    }
  }
  return ok_status();
}

}  // namespace kiln
