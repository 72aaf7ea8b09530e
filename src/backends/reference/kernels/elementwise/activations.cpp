// Reference kernels of the activation ops with float attributes. Each is a short formula over
// the shared map helpers, so they live together in one file.
#include <cmath>
#include <numbers>
#include <string>
#include <type_traits>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"
#include "core/activation.h"
#include "fmt/format.h"

namespace kiln {

namespace {

// The fused ops' activations (core/activation.h) share these, so fused and unfused agree.
using activation_detail::clamp_keep_nan;

// log(1 + exp(v)) without overflow for large v.
template <typename C>
C softplus(C v) {
  return v > C(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

}  // namespace

Status ref_leaky_relu(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 0.01f);
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    return v < C(0) ? static_cast<C>(alpha) * v : v;
  });
}

Status ref_elu(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 1.0f);
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    return v < C(0) ? static_cast<C>(alpha) * std::expm1(v) : v;
  });
}

Status ref_selu(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.attrs().get_float("gamma", 1.05070102214813232421875f);
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    const C a = static_cast<C>(alpha);
    const C g = static_cast<C>(gamma);
    return v > C(0) ? g * v : g * (a * std::exp(v) - a);
  });
}

Status ref_celu(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 1.0f);
  if (alpha == 0.0f) return ctx.error("attribute 'alpha' is 0, expected a non-zero value");
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    const C a = static_cast<C>(alpha);
    if (std::isnan(v)) return v;  // numpy's maximum/minimum propagate NaN
    const C neg = a * std::expm1(v / a);
    return (v > C(0) ? v : C(0)) + (neg < C(0) ? neg : C(0));
  });
}

Status ref_sigmoid(KernelContext& ctx) {
  return map_float(ctx, [](auto v) {
    return activation_detail::sigmoid(v);
  });
}

Status ref_hard_sigmoid(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 0.2f);
  const float beta = ctx.attrs().get_float("beta", 0.5f);
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    return clamp_keep_nan(static_cast<C>(alpha) * v + static_cast<C>(beta), C(0), C(1));
  });
}

Status ref_hard_swish(KernelContext& ctx) {
  // HardSwish is x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
  return map_float(ctx, [](auto v) {
    using C = decltype(v);
    return v * clamp_keep_nan(v / C(6) + C(0.5), C(0), C(1));
  });
}

Status ref_softplus(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return softplus(v); });
}

Status ref_softsign(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return v / (decltype(v)(1) + std::abs(v)); });
}

Status ref_mish(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return v * std::tanh(softplus(v)); });
}

Status ref_gelu(KernelContext& ctx) {
  const std::string approximate = ctx.attrs().get_string("approximate", "none");
  if (approximate == "none") {
    return map_float(ctx, [](auto v) {
      using C = decltype(v);
      return C(0.5) * v * (C(1) + std::erf(v / std::sqrt(C(2))));
    });
  }
  if (approximate == "tanh") {
    return map_float(ctx, [](auto v) {
      using C = decltype(v);
      const C k = std::sqrt(C(2) / std::numbers::pi_v<C>);
      return C(0.5) * v * (C(1) + std::tanh(k * (v + C(0.044715) * v * v * v)));
    });
  }
  return ctx.error(
      fmt::format("attribute 'approximate' is '{}', expected 'none' or 'tanh'", approximate));
}

Status ref_thresholded_relu(KernelContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 1.0f);
  return map_float(ctx, [&](auto v) {
    using C = decltype(v);
    return v > static_cast<C>(alpha) ? v : C(0);
  });
}

Status ref_shrink(KernelContext& ctx) {
  const float bias = ctx.attrs().get_float("bias", 0.0f);
  const float lambd = ctx.attrs().get_float("lambd", 0.5f);
  return map_numeric(ctx, [&](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      const C b = static_cast<C>(bias);
      const C l = static_cast<C>(lambd);
      return v < -l ? v + b : (v > l ? v - b : C(0));
    } else {
      // Integers compute in double (as numpy does with a float bias) and truncate back.
      const double d = static_cast<double>(v);
      const double r = d < -static_cast<double>(lambd) ? d + bias : (d > lambd ? d - bias : 0.0);
      return float_to_int<C>(r);
    }
  });
}

Status ref_tanh(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::tanh(v); });
}

}  // namespace kiln
