// MaxPool, AveragePool and LpPool kernels share one file: they walk the same windows (from
// make_pool_plan) and differ only in the reduction over each window.
#include <cmath>
#include <limits>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

Status ref_max_pool(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PoolPlan p, make_pool_plan(ctx, x));
  const int64_t order = ctx.attrs().get_int("storage_order", 0);
  if (order != 0 && order != 1) return ctx.error(fmt::format("attribute 'storage_order' is {}, expected 0 or 1", order));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), p.out_dims));
  build_taps(p);
  Tensor* ind = nullptr;
  if (wants_output(ctx, 1)) {
    KILN_ASSIGN_OR_RETURN(ind, ctx.allocate_output(1, DataType::kInt64, p.out_dims));
  }
  // Column-major position of a row-major spatial offset (storage_order = 1).
  const size_t n = p.in_spatial.size();
  auto col_major = [&](int64_t off) {
    int64_t r = 0, mul = 1;
    std::vector<int64_t> idx(n);
    for (size_t d = n; d-- > 0;) {
      idx[d] = off % p.in_spatial[d];
      off /= p.in_spatial[d];
    }
    for (size_t d = 0; d < n; ++d) {
      r += idx[d] * mul;
      mul *= p.in_spatial[d];
    }
    return r;
  };
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    int64_t* idx_out = ind != nullptr ? ind->data_as<int64_t>() : nullptr;
    for_each_window(p, [&](int64_t o, const std::vector<int64_t>& offs) {
      for (int64_t pl = 0; pl < p.planes; ++pl) {
        const T* src = in + pl * p.in_plane;
        // An empty window (only possible with pads at least the kernel) gives 0 and index -1.
        C best = C(0);
        int64_t arg = -1;
        for (int64_t off : offs) {
          const C v = static_cast<C>(src[off]);
          if (arg < 0 || v > best) {
            best = v;
            arg = off;
          }
        }
        out[pl * p.out_plane + o] = static_cast<T>(best);
        if (idx_out != nullptr) {
          idx_out[pl * p.out_plane + o] = arg < 0 ? -1 : pl * p.in_plane + (order == 1 ? col_major(arg) : arg);
        }
      }
    });
    return ok_status();
  });
}

Status ref_average_pool(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PoolPlan p, make_pool_plan(ctx, x));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), p.out_dims));
  build_taps(p);
  // count_include_pad counts every window position, including those past the input (explicit
  // pads, SAME pads and the ceil-mode overhang alike): the divisor is the kernel size.
  const bool include_pad = ctx.attrs().get_int("count_include_pad", 0) != 0;
  int64_t kernel_size = 1;
  for (int64_t k : p.g.kernel) kernel_size *= k;
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for_each_window(p, [&](int64_t o, const std::vector<int64_t>& offs) {
      const int64_t count = include_pad ? kernel_size : static_cast<int64_t>(offs.size());
      for (int64_t pl = 0; pl < p.planes; ++pl) {
        const T* src = in + pl * p.in_plane;
        C sum = C(0);
        for (int64_t off : offs) sum += static_cast<C>(src[off]);
        out[pl * p.out_plane + o] = static_cast<T>(count > 0 ? sum / static_cast<C>(count) : C(0));
      }
    });
    return ok_status();
  });
}

Status ref_lp_pool(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PoolPlan p, make_pool_plan(ctx, x));
  const double pw = attr_p(ctx.attrs(), 2.0);
  if (!(pw > 0)) return ctx.error(fmt::format("attribute 'p' is {}, expected a positive value", pw));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), p.out_dims));
  build_taps(p);
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    const C pc = static_cast<C>(pw);
    for_each_window(p, [&](int64_t o, const std::vector<int64_t>& offs) {
      for (int64_t pl = 0; pl < p.planes; ++pl) {
        const T* src = in + pl * p.in_plane;
        C sum = C(0);
        for (int64_t off : offs) sum += std::pow(std::abs(static_cast<C>(src[off])), pc);
        out[pl * p.out_plane + o] = static_cast<T>(std::pow(sum, C(1) / pc));
      }
    });
    return ok_status();
  });
}

}  // namespace kiln
