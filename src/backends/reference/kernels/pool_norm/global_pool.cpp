// GlobalAveragePool, GlobalMaxPool and GlobalLpPool share one file: each reduces every (n, c)
// plane over all spatial axes to one value, differing only in the reduction.
#include <cmath>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

namespace {

enum class GlobalKind { kAverage, kMax, kLp };

Status global_pool(KernelContext& ctx, GlobalKind kind) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank 2 or more", dims_to_string(x.shape())));
  double pw = 2.0;
  if (kind == GlobalKind::kLp) {
    pw = attr_p(ctx.attrs(), 2.0);
    if (!(pw > 0)) return ctx.error(fmt::format("attribute 'p' is {}, expected a positive value", pw));
  }
  Dims out_dims = x.shape();
  for (size_t i = 2; i < out_dims.size(); ++i) out_dims[i] = 1;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t inner = planes > 0 ? x.numel() / planes : 0;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    const C pc = static_cast<C>(pw);
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* src = in + pl * inner;
      C acc = C(0);  // an empty plane gives 0
      for (int64_t i = 0; i < inner; ++i) {
        const C v = static_cast<C>(src[i]);
        switch (kind) {
          case GlobalKind::kAverage: acc += v; break;
          case GlobalKind::kMax: acc = (i == 0 || v > acc) ? v : acc; break;
          case GlobalKind::kLp: acc += std::pow(std::abs(v), pc); break;
        }
      }
      if (kind == GlobalKind::kAverage && inner > 0) acc /= static_cast<C>(inner);
      if (kind == GlobalKind::kLp) acc = std::pow(acc, C(1) / pc);
      out[pl] = static_cast<T>(acc);
    }
    return ok_status();
  });
}

}  // namespace

Status ref_global_average_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kAverage); }
Status ref_global_max_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kMax); }
Status ref_global_lp_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kLp); }

}  // namespace kiln
