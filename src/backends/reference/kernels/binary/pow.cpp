// Pow: base ** exponent in the base's dtype. Integer ** integer is exact (wrapping) integer power;
// anything with a float computes in double and rounds once to the base's dtype (numpy promotes
// mixed int/float pairs to float64 too).
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

namespace {

template <typename T>
T int_pow(T base, uint64_t e) {
  using U = wide_unsigned_t<T>;
  U r = 1;
  U b = static_cast<U>(base);
  while (e != 0) {
    if (e & 1u) r = static_cast<U>(r * b);
    b = static_cast<U>(b * b);
    e >>= 1;
  }
  return static_cast<T>(r);
}

// double -> integer without undefined behaviour: NaN gives 0, out-of-range values saturate.
template <typename T>
T saturate_to_int(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

template <typename T, typename E>
T pow_elem(T a, E b, bool& zero_to_negative) {
  if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
    if constexpr (std::is_signed_v<E>) {
      if (b < 0) {
        // Integer results of 1/a^n: only +-1 survive truncation; 0 has no inverse.
        if (a == T(1)) return T(1);
        if (a == T(-1)) return (b % 2 == 0) ? T(1) : T(-1);
        if (a == T(0)) zero_to_negative = true;
        return T(0);
      }
    }
    return int_pow(a, static_cast<uint64_t>(b));
  } else {
    const double r = std::pow(static_cast<double>(static_cast<compute_t<T>>(a)),
                              static_cast<double>(static_cast<compute_t<E>>(b)));
    if constexpr (std::is_integral_v<T>) {
      return saturate_to_int<T>(r);
    } else {
      return static_cast<T>(static_cast<compute_t<T>>(r));
    }
  }
}

}  // namespace

Status ref_pow(KernelContext& ctx) {
  if (!ctx.input(0) || !ctx.input(1)) return ctx.error("Pow needs two inputs");
  const DataType bt = ctx.input(0)->dtype();
  const DataType et = ctx.input(1)->dtype();
  bool zero_to_negative = false;
  Status s = dispatch_numeric(bt, [&](auto btag) -> Status {
    using T = typename decltype(btag)::type;
    if constexpr (std::is_floating_point_v<compute_t<T>> || std::is_same_v<T, int32_t> ||
                  std::is_same_v<T, int64_t>) {
      return dispatch_numeric(et, [&](auto etag) -> Status {
        using E = typename decltype(etag)::type;
        return map_binary<T, E, T>(
            ctx, bt, [&](T a, E b) { return pow_elem<T, E>(a, b, zero_to_negative); });
      });
    } else {
      return ctx.error(
          fmt::format("base has dtype {}, expected a float type, int32 or int64", dtype_name(bt)));
    }
  });
  if (!s.ok()) return with_node(ctx, s);
  if (zero_to_negative) return ctx.error("integer zero raised to a negative power");
  return ok_status();
}

}  // namespace kiln
