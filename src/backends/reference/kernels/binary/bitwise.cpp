// BitwiseAnd, BitwiseOr, BitwiseXor on integers: one template, since only the scalar function
// differs.
#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

enum class Bitwise { kAnd, kOr, kXor };

template <Bitwise kOp>
Status run_bitwise(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const DataType dt = ctx.input(0) ? ctx.input(0)->dtype() : DataType::kUndefined;
  Status s = dispatch_int(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_binary<T, T, T>(ctx, dt, [](T a, T b) -> T {
      if constexpr (kOp == Bitwise::kAnd) return static_cast<T>(a & b);
      if constexpr (kOp == Bitwise::kOr) return static_cast<T>(a | b);
      if constexpr (kOp == Bitwise::kXor) return static_cast<T>(a ^ b);
    });
  });
  return with_node(ctx, s);
}

}  // namespace

Status ref_bitwise_and(KernelContext& ctx) { return run_bitwise<Bitwise::kAnd>(ctx); }
Status ref_bitwise_or(KernelContext& ctx) { return run_bitwise<Bitwise::kOr>(ctx); }
Status ref_bitwise_xor(KernelContext& ctx) { return run_bitwise<Bitwise::kXor>(ctx); }

}  // namespace kiln
