// Max, Min, Sum, Mean: 1..N inputs broadcast together, folded left to right in the compute type
// and rounded once when stored. One template, since only the fold differs.
#include <cmath>
#include <type_traits>

#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

enum class Fold { kMax, kMin, kSum, kMean };

template <Fold kOp>
Status run_fold(KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  if (n == 0) return ctx.error("needs at least one input");
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, n));
  KILN_ASSIGN_OR_RETURN(BroadcastPlan p, plan_broadcast(ctx, 0, n));
  const DataType dt = ctx.input(0)->dtype();
  auto body = [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    std::vector<const T*> in(n);
    for (size_t k = 0; k < n; ++k) in[k] = ctx.input(k)->data_as<T>();
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, p.out));
    T* out = y->data_as<T>();
    for_each_broadcast(p.out, p.ins, [&](int64_t i, const std::vector<int64_t>& off) {
      C acc = static_cast<C>(in[0][off[0]]);
      for (size_t k = 1; k < n; ++k) {
        const C x = static_cast<C>(in[k][off[k]]);
        if constexpr (kOp == Fold::kMax || kOp == Fold::kMin) {
          // NaN wins, as with numpy's maximum/minimum.
          bool take = kOp == Fold::kMax ? x > acc : x < acc;
          if constexpr (std::is_floating_point_v<C>) take = take || std::isnan(x);
          if (take) acc = x;
        } else {
          acc = static_cast<C>(acc + x);
        }
      }
      if constexpr (kOp == Fold::kMean) acc = static_cast<C>(acc / static_cast<C>(n));
      out[i] = static_cast<T>(acc);
    });
    return ok_status();
  };
  Status s = (kOp == Fold::kSum || kOp == Fold::kMean) ? dispatch_float(dt, body)
                                                       : dispatch_numeric(dt, body);
  return with_node(ctx, s);
}

}  // namespace

Status ref_max(KernelContext& ctx) { return run_fold<Fold::kMax>(ctx); }
Status ref_min(KernelContext& ctx) { return run_fold<Fold::kMin>(ctx); }
Status ref_sum(KernelContext& ctx) { return run_fold<Fold::kSum>(ctx); }
Status ref_mean(KernelContext& ctx) { return run_fold<Fold::kMean>(ctx); }

}  // namespace kiln
