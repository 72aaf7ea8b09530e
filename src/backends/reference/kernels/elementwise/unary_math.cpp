// Reference kernels of the unary math ops. Each is one line over shared map helpers, so they
// live together in one file rather than 26 files of boilerplate.
#include <cmath>
#include <type_traits>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"

namespace kiln {

namespace {

// Writes pred(x[i]) as bool for a float input (IsNaN, IsInf).
template <typename Pred>
Status map_float_to_bool(KernelContext& ctx, Pred&& pred) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    bool* out = y->data_as<bool>();
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = pred(static_cast<compute_t<T>>(in[i]));
    return ok_status();
  });
}

// Round half to even, like numpy's round (independent of the FPU rounding mode).
template <typename C>
C round_half_even(C v) {
  if (!std::isfinite(v)) return v;
  const C r = std::round(v);  // halves away from zero
  if (std::abs(v - std::trunc(v)) == C(0.5)) return C(2) * std::round(v / C(2));
  return r;
}

}  // namespace

Status ref_abs(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      return std::abs(v);
    } else if constexpr (std::is_signed_v<C>) {
      return v < 0 ? wrap_neg(v) : v;  // abs(INT_MIN) wraps to INT_MIN like numpy
    } else {
      return v;
    }
  });
}

Status ref_neg(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      return -v;
    } else {
      return wrap_neg(v);
    }
  });
}

Status ref_reciprocal(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return decltype(v)(1) / v; });
}
Status ref_sqrt(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::sqrt(v); });
}
Status ref_exp(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::exp(v); });
}
Status ref_log(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::log(v); });
}
Status ref_ceil(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::ceil(v); });
}
Status ref_floor(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::floor(v); });
}
Status ref_round(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return round_half_even(v); });
}

Status ref_sign(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      return v > C(0) ? C(1) : (v < C(0) ? C(-1) : v);  // zeros and NaN pass through
    } else if constexpr (std::is_signed_v<C>) {
      return static_cast<C>(v > 0 ? 1 : (v < 0 ? -1 : 0));
    } else {
      return static_cast<C>(v != 0 ? 1 : 0);
    }
  });
}

Status ref_erf(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      return std::erf(v);
    } else {
      return float_to_int<C>(std::erf(static_cast<double>(v)));  // truncates like numpy's astype
    }
  });
}

Status ref_sin(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::sin(v); });
}
Status ref_cos(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::cos(v); });
}
Status ref_tan(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::tan(v); });
}
Status ref_asin(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::asin(v); });
}
Status ref_acos(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::acos(v); });
}
Status ref_atan(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::atan(v); });
}
Status ref_sinh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::sinh(v); });
}
Status ref_cosh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::cosh(v); });
}
Status ref_asinh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::asinh(v); });
}
Status ref_acosh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::acosh(v); });
}
Status ref_atanh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::atanh(v); });
}

Status ref_isnan(KernelContext& ctx) {
  return map_float_to_bool(ctx, [](auto v) { return std::isnan(v); });
}

Status ref_isinf(KernelContext& ctx) {
  const bool neg = ctx.attrs().get_int("detect_negative", 1) != 0;
  const bool pos = ctx.attrs().get_int("detect_positive", 1) != 0;
  return map_float_to_bool(ctx, [&](auto v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

Status ref_not(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  if (x.dtype() != DataType::kBool) {
    return ctx.error(std::string("input 0 has dtype ") + dtype_name(x.dtype()) + ", expected bool");
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, x.shape()));
  const bool* in = x.data_as<bool>();
  bool* out = y->data_as<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = !in[i];
  return ok_status();
}

Status ref_bitwise_not(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  return dispatch_int(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_unary<T>(ctx, [](T v) { return static_cast<T>(~v); });
  });
}

}  // namespace kiln
