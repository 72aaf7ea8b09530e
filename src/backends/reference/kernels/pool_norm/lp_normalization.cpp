#include <cmath>

#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// x / ||x||_p along `axis` (p = 1 or 2); a zero-norm slice gives zeros rather than NaN.
Status ref_lp_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  if (rank < 1) return ctx.error("input 0 is a scalar, expected rank 1 or more");
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  const int64_t p = ctx.attrs().get_int("p", 2);
  if (p != 1 && p != 2) return ctx.error(fmt::format("attribute 'p' is {}, expected 1 or 2", p));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.dim(d);
  const int64_t len = x.dim(axis);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * len * inner + i;
        double acc = 0;
        for (int64_t k = 0; k < len; ++k) {
          const double v = static_cast<double>(static_cast<C>(in[base + k * inner]));
          acc += p == 1 ? std::abs(v) : v * v;
        }
        const double norm = p == 1 ? acc : std::sqrt(acc);
        for (int64_t k = 0; k < len; ++k) {
          const double v = static_cast<double>(static_cast<C>(in[base + k * inner]));
          out[base + k * inner] = static_cast<T>(static_cast<C>(norm != 0 ? v / norm : 0.0));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
