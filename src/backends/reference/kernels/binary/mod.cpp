// Mod: fmod=1 gives C's fmod (sign of the dividend); fmod=0 gives Python's % (sign of the
// divisor), which ONNX allows for integers only. Integer modulo by zero is an error.
#include <cmath>
#include <type_traits>

#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

Status ref_mod(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  if (!ctx.input(0)) return ctx.error("input 0 is missing");
  const DataType dt = ctx.input(0)->dtype();
  const int64_t fmod = ctx.attrs().get_int("fmod", 0);
  if (fmod != 0 && fmod != 1)
    return ctx.error(fmt::format("attribute 'fmod' is {}, expected 0 or 1", fmod));
  if (fmod == 0 && dtype_is_float(dt)) {
    return ctx.error(
        fmt::format("attribute 'fmod' must be 1 for floating-point inputs ({})", dtype_name(dt)));
  }
  bool by_zero = false;
  Status s = dispatch_numeric(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_binary<T, T, T>(ctx, dt, [&](T a, T b) -> T {
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) {
          by_zero = true;
          return T(0);
        }
        if constexpr (std::is_signed_v<T>) {
          if (b == T(-1)) return T(0);  // also avoids min % -1, which overflows
          T r = static_cast<T>(a % b);
          if (fmod == 0 && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
          return r;
        } else {
          return static_cast<T>(a % b);
        }
      } else {
        using C = compute_t<T>;
        return static_cast<T>(std::fmod(static_cast<C>(a), static_cast<C>(b)));
      }
    });
  });
  if (!s.ok()) return with_node(ctx, s);
  if (by_zero) return ctx.error("integer modulo by zero");
  return ok_status();
}

}  // namespace kiln
