// Add, Sub, Mul, Div share one template (same dtypes and broadcasting; only the scalar function
// differs), so they live together in one file.
#include <limits>
#include <type_traits>

#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

enum class Arith { kAdd, kSub, kMul, kDiv };

template <Arith kOp>
Status run_arith(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const DataType dt = ctx.input(0) ? ctx.input(0)->dtype() : DataType::kUndefined;
  bool div_by_zero = false;
  Status s = dispatch_numeric(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_binary<T, T, T>(ctx, dt, [&](T a, T b) -> T {
      if constexpr (std::is_integral_v<T>) {
        if constexpr (kOp == Arith::kAdd) return wrap_add(a, b);
        if constexpr (kOp == Arith::kSub) return wrap_sub(a, b);
        if constexpr (kOp == Arith::kMul) return wrap_mul(a, b);
        if constexpr (kOp == Arith::kDiv) {
          if (b == 0) {
            div_by_zero = true;
            return T(0);
          }
          if constexpr (std::is_signed_v<T>) {
            // min / -1 overflows; wrap like the other integer ops.
            if (b == T(-1)) return wrap_sub(T(0), a);
          }
          return static_cast<T>(a / b);  // truncates toward zero
        }
      } else {
        using C = compute_t<T>;
        const C x = static_cast<C>(a);
        const C y = static_cast<C>(b);
        if constexpr (kOp == Arith::kAdd) return static_cast<T>(x + y);
        if constexpr (kOp == Arith::kSub) return static_cast<T>(x - y);
        if constexpr (kOp == Arith::kMul) return static_cast<T>(x * y);
        if constexpr (kOp == Arith::kDiv) return static_cast<T>(x / y);
      }
    });
  });
  if (!s.ok()) return with_node(ctx, s);
  if (div_by_zero) return ctx.error("integer division by zero");
  return ok_status();
}

}  // namespace

Status ref_add(KernelContext& ctx) { return run_arith<Arith::kAdd>(ctx); }
Status ref_sub(KernelContext& ctx) { return run_arith<Arith::kSub>(ctx); }
Status ref_mul(KernelContext& ctx) { return run_arith<Arith::kMul>(ctx); }
Status ref_div(KernelContext& ctx) { return run_arith<Arith::kDiv>(ctx); }

}  // namespace kiln
