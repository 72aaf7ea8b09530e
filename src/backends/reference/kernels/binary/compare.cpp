// Equal, Greater, GreaterOrEqual, Less, LessOrEqual: one template, since only the comparison
// differs. 16-bit floats compare as float (exact).
#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

enum class Cmp { kEq, kGt, kGe, kLt, kLe };

template <Cmp kOp>
Status run_compare(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const DataType dt = ctx.input(0) ? ctx.input(0)->dtype() : DataType::kUndefined;
  if (dt == DataType::kBool && kOp != Cmp::kEq)
    return ctx.error("input has dtype bool, expected a numeric type");
  Status s = dispatch_all(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    return map_binary<T, T, bool>(ctx, DataType::kBool, [](T a, T b) -> bool {
      const C x = static_cast<C>(a);
      const C y = static_cast<C>(b);
      if constexpr (kOp == Cmp::kEq) return x == y;
      if constexpr (kOp == Cmp::kGt) return x > y;
      if constexpr (kOp == Cmp::kGe) return x >= y;
      if constexpr (kOp == Cmp::kLt) return x < y;
      if constexpr (kOp == Cmp::kLe) return x <= y;
    });
  });
  return with_node(ctx, s);
}

}  // namespace

Status ref_equal(KernelContext& ctx) { return run_compare<Cmp::kEq>(ctx); }
Status ref_greater(KernelContext& ctx) { return run_compare<Cmp::kGt>(ctx); }
Status ref_greater_or_equal(KernelContext& ctx) { return run_compare<Cmp::kGe>(ctx); }
Status ref_less(KernelContext& ctx) { return run_compare<Cmp::kLt>(ctx); }
Status ref_less_or_equal(KernelContext& ctx) { return run_compare<Cmp::kLe>(ctx); }

}  // namespace kiln
