// And, Or, Xor on bools: one template, since only the scalar function differs.
#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

enum class Logic { kAnd, kOr, kXor };

template <Logic kOp>
Status run_logic(KernelContext& ctx) {
  for (size_t i = 0; i < 2; ++i) {
    if (ctx.input(i) && ctx.input(i)->dtype() != DataType::kBool) {
      return ctx.error(fmt::format("input {} has dtype {}, expected bool", i,
                                   dtype_name(ctx.input(i)->dtype())));
    }
  }
  return map_binary<bool, bool, bool>(ctx, DataType::kBool, [](bool a, bool b) {
    if constexpr (kOp == Logic::kAnd) return a && b;
    if constexpr (kOp == Logic::kOr) return a || b;
    if constexpr (kOp == Logic::kXor) return a != b;
  });
}

}  // namespace

Status ref_and(KernelContext& ctx) { return run_logic<Logic::kAnd>(ctx); }
Status ref_or(KernelContext& ctx) { return run_logic<Logic::kOr>(ctx); }
Status ref_xor(KernelContext& ctx) { return run_logic<Logic::kXor>(ctx); }

}  // namespace kiln
