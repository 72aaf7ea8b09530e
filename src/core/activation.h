// The activations kiln's fused ops apply (docs/fused_ops.md, "Activations"): FusedConv,
// FusedMatMul and FusedPointwise name one by a string with up to two float parameters.
//
// Each formula is written exactly as the reference kernel of the ONNX op of the same name
// evaluates it (src/backends/reference/kernels/elementwise/: relu.cpp, clip.cpp, activations.cpp),
// in the same compute type (float for float32 and the 16-bit floats, double for float64), so a
// fused node gives the same bits as the unfused op for float32 and float64. Keep the two in step.
#pragma once

#include <cmath>
#include <numbers>
#include <string>

#include "core/dispatch.h"
#include "kiln/status.h"

namespace kiln {

enum class Activation {
  kNone,
  kRelu,
  kLeakyRelu,
  kClip,
  kSigmoid,
  kTanh,
  kHardSigmoid,
  kHardSwish,
  kSilu,
  kGelu,
  kGeluTanh,
};

// "" is kNone; an unknown name is an invalid-argument error listing the valid names.
Result<Activation> parse_activation(const std::string& name);
// The name parse_activation reads ("" for kNone).
const char* activation_name(Activation a);
// Every valid name, comma separated (for error messages).
std::string activation_names();

// The parameters the ONNX op uses when its attributes are absent (LeakyRelu alpha 0.01,
// HardSigmoid 0.2 / 0.5, Clip -inf / +inf); zeros for activations without parameters.
struct ActivationParams {
  float alpha = 0;
  float beta = 0;
};
ActivationParams default_activation_params(Activation a);

namespace activation_detail {

// lo <= v <= hi, NaN stays NaN (as the reference HardSigmoid/HardSwish clamp).
template <typename C>
C clamp_keep_nan(C v, C lo, C hi) {
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

// The reference Sigmoid: both branches keep exp's argument <= 0 so it cannot overflow.
template <typename C>
C sigmoid(C v) {
  if (v >= C(0)) return C(1) / (C(1) + std::exp(-v));
  const C e = std::exp(v);
  return e / (C(1) + e);
}

}  // namespace activation_detail

// a(x) in the compute type C of a tensor of element type T, rounding every intermediate result
// that the unfused graph stores in a tensor to T. Only Silu has one: it is Mul(x, Sigmoid(x)), and
// Sigmoid's output is a T tensor; so for float16/bfloat16 Silu also matches the unfused pair bit
// for bit. The caller rounds the result to T.
template <typename T>
compute_t<T> apply_activation_as(Activation a, compute_t<T> x, float alpha, float beta) {
  using C = compute_t<T>;
  using activation_detail::clamp_keep_nan;
  switch (a) {
    case Activation::kNone:
      return x;
    case Activation::kRelu:
      return x < C(0) ? C(0) : x;  // keeps NaN, like numpy's maximum(x, 0)
    case Activation::kLeakyRelu:
      return x < C(0) ? static_cast<C>(alpha) * x : x;
    case Activation::kClip: {
      // min(max(x, lo), hi) like numpy's clip: lo > hi gives hi everywhere; NaN stays NaN.
      const C lo = static_cast<C>(alpha), hi = static_cast<C>(beta);
      if (x < lo) x = lo;
      if (x > hi) x = hi;
      return x;
    }
    case Activation::kSigmoid:
      return activation_detail::sigmoid(x);
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kHardSigmoid:
      return clamp_keep_nan(static_cast<C>(alpha) * x + static_cast<C>(beta), C(0), C(1));
    case Activation::kHardSwish:
      return x * clamp_keep_nan(x / C(6) + C(0.5), C(0), C(1));
    case Activation::kSilu: {
      const C s = static_cast<C>(static_cast<T>(activation_detail::sigmoid(x)));
      return x * s;
    }
    case Activation::kGelu:
      return C(0.5) * x * (C(1) + std::erf(x / std::sqrt(C(2))));
    case Activation::kGeluTanh: {
      const C k = std::sqrt(C(2) / std::numbers::pi_v<C>);
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
  }
  return x;
}

// a(x) for float32 and float64 values.
inline float apply_activation(Activation a, float x, float alpha, float beta) {
  return apply_activation_as<float>(a, x, alpha, beta);
}
inline double apply_activation(Activation a, double x, float alpha, float beta) {
  return apply_activation_as<double>(a, x, alpha, beta);
}

}  // namespace kiln
