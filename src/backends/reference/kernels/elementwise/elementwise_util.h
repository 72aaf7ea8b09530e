// Helpers shared by the elementwise reference kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "backends/kernel.h"
#include "core/dispatch.h"

namespace kiln {

// Input i, or an error when a required input was left empty.
inline Result<const Tensor*> required_input(KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return ctx.error("input " + std::to_string(i) + " is required but missing");
  return t;
}

// y[i] = f(x[i]) for input 0 into output 0 of the same dtype and shape. f takes and returns
// compute_t<T> (float for the 16-bit floats, which are rounded once when stored).
template <typename T, typename F>
Status map_unary(KernelContext& ctx, F&& f) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  const T* in = x.data_as<T>();
  T* out = y->data_as<T>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(f(static_cast<compute_t<T>>(in[i])));
  return ok_status();
}

// map_unary over the float dtypes; f is generic over float and double.
template <typename F>
Status map_float(KernelContext& ctx, F&& f) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  return dispatch_float(x->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_unary<T>(ctx, f);
  });
}

// map_unary over floats and integers; f is generic over float, double and the integer types.
template <typename F>
Status map_numeric(KernelContext& ctx, F&& f) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0));
  return dispatch_numeric(x->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_unary<T>(ctx, f);
  });
}

// Integer arithmetic that wraps like numpy instead of overflowing (undefined for signed types).
template <typename I>
I wrap_neg(I v) {
  using U = std::make_unsigned_t<I>;
  return static_cast<I>(static_cast<U>(U(0) - static_cast<U>(v)));
}
template <typename I>
I wrap_mul(I a, I b) {
  using U = std::make_unsigned_t<decltype(+a)>;  // promoted width, so small types wrap too
  return static_cast<I>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
}

// A float value converted to an integer type the way numpy's astype does on common hardware:
// truncation toward zero, then wrap-around to the type's width. Values beyond the int64 range
// saturate to the type's limits and NaN gives 0 (numpy leaves those undefined; kiln must not invoke
// C++ UB).
template <typename I>
I float_to_int(double d) {
  if (std::isnan(d)) return I(0);
  d = std::trunc(d);
  constexpr double kTwo63 = 9223372036854775808.0;
  if constexpr (std::is_same_v<I, uint64_t>) {
    if (d >= 2 * kTwo63) return std::numeric_limits<uint64_t>::max();
    if (d >= kTwo63) return static_cast<uint64_t>(d);
  }
  if (d >= kTwo63) return std::numeric_limits<I>::max();
  if (d < -kTwo63) return std::numeric_limits<I>::min();
  return static_cast<I>(static_cast<int64_t>(d));
}

}  // namespace kiln
