// The ONNX 8-bit float types (FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ) and the
// 4-bit integers (INT4, UINT4) as one-byte storage types. None of them has arithmetic: kernels that
// take them (Cast, CastLike, QuantizeLinear, DequantizeLinear) convert to float explicitly.
//
// float8 follows the ONNX spec (the Cast operator's tables; onnx/docs/docsgen Float8 notes):
//   E4M3FN   bias 7,  no infinities, NaN = S.1111.111, max 448, has -0
//   E4M3FNUZ bias 8,  no infinities, NaN = 0x80 only (no -0), max 240
//   E5M2     bias 15, IEEE-like: inf = S.11111.00, NaN = S.11111.{01,10,11}, max 57344
//   E5M2FNUZ bias 16, no infinities, NaN = 0x80 only (no -0), max 57344
// Rounding from float is to nearest, ties to even. A value whose rounded magnitude exceeds the
// maximum saturates to +/-max when `saturate` (the default, and Cast's default) and otherwise
// becomes NaN (+/-inf for E5M2). Infinities follow the same rule (saturate: +/-max), as in the
// ONNX reference and its test data. Every NaN (quiet or signalling) becomes the format's NaN;
// FN and E5M2 keep the sign bit, as the ONNX reference does. FNUZ results that round to zero are
// +0 (those types have no negative zero).
//
// int4/uint4 are kept unpacked, one element per byte: Int4 holds [-8, 7] in an int8, UInt4 holds
// [0, 15] in a uint8. Only the low nibble is significant, so an out-of-range byte still reads as a
// well-defined 4-bit value. They are packed two per byte only in ONNX TensorProtos.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kiln {

enum class Float8Kind { kE4M3FN, kE4M3FNUZ, kE5M2, kE5M2FNUZ };

namespace float8_detail {

struct Format {
  int mant_bits;
  int bias;
  uint8_t max_mag;  // the largest finite magnitude's bit pattern (without sign)
  bool uz;          // FNUZ: 0x80 is the only NaN, no negative zero
  bool ieee;        // E5M2: IEEE-style infinities and NaNs in the top exponent
};

constexpr Format format(Float8Kind k) {
  switch (k) {
    case Float8Kind::kE4M3FN: return {3, 7, 0x7e, false, false};
    case Float8Kind::kE4M3FNUZ: return {3, 8, 0x7f, true, false};
    case Float8Kind::kE5M2: return {2, 15, 0x7b, false, true};
    case Float8Kind::kE5M2FNUZ: return {2, 16, 0x7f, true, false};
  }
  return {3, 7, 0x7e, false, false};
}

}  // namespace float8_detail

inline bool float8_is_nan(uint8_t bits, Float8Kind k) {
  const auto f = float8_detail::format(k);
  if (f.uz) return bits == 0x80;
  if (f.ieee) return (bits & 0x7c) == 0x7c && (bits & 0x03) != 0;
  return (bits & 0x7f) == 0x7f;
}

inline float float8_to_float(uint8_t bits, Float8Kind k) {
  const auto f = float8_detail::format(k);
  if (float8_is_nan(bits, k)) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    return (bits & 0x80) && !f.uz ? -nan : nan;
  }
  const bool neg = (bits & 0x80) != 0;
  const int mag = bits & 0x7f;
  if (f.ieee && mag == 0x7c) {
    return neg ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  }
  const int exp = mag >> f.mant_bits;
  const int mant = mag & ((1 << f.mant_bits) - 1);
  // Subnormals (exp 0) are mant * 2^(1 - bias - mant_bits); normals carry the implicit 1. Both
  // are exact in float.
  const float v = exp == 0 ? std::ldexp(static_cast<float>(mant), 1 - f.bias - f.mant_bits)
                           : std::ldexp(static_cast<float>(mant + (1 << f.mant_bits)),
                                        exp - f.bias - f.mant_bits);
  return neg ? -v : v;
}

inline uint8_t float_to_float8(float x, Float8Kind k, bool saturate = true) {
  const auto f = float8_detail::format(k);
  uint32_t b;
  std::memcpy(&b, &x, 4);
  const uint8_t sign = static_cast<uint8_t>((b >> 24) & 0x80u);
  const uint8_t nan = f.uz ? uint8_t{0x80} : static_cast<uint8_t>(sign | 0x7f);
  // What an out-of-range magnitude (or an infinity) becomes.
  const uint8_t overflow = saturate ? static_cast<uint8_t>(sign | f.max_mag)
                           : f.ieee ? static_cast<uint8_t>(sign | 0x7c)
                                    : nan;
  const uint32_t abs_bits = b & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return nan;
  if (abs_bits == 0x7f800000u) return overflow;
  const int fexp = static_cast<int>(abs_bits >> 23);
  // float subnormals and zero are far below half the smallest float8 subnormal.
  if (fexp == 0) return f.uz ? uint8_t{0} : sign;
  const uint32_t sig = (abs_bits & 0x7fffffu) | 0x800000u;  // value = sig * 2^(e - 23)
  const int e = fexp - 127;
  const int min_normal_exp = 1 - f.bias;
  // Quantum (weight of the last mantissa bit) of the target at this magnitude: 2^(e - m) for
  // normals, the fixed subnormal step 2^(min_normal_exp - m) below.
  const int quantum_exp = (e >= min_normal_exp ? e : min_normal_exp) - f.mant_bits;
  const int shift = quantum_exp - (e - 23);  // >= 23 - mant_bits > 0
  uint32_t n = 0;                            // the magnitude in quanta, rounded to nearest even
  if (shift < 32) {
    n = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (n & 1u))) ++n;
  }
  // Bit pattern of n quanta. Subnormal range: the pattern is n itself (n == 2^m is the smallest
  // normal). Normal range: exponent field e + bias above the implicit bit; a mantissa carry
  // (n == 2^(m+1)) moves into the exponent by itself.
  int64_t mag;
  if (e >= min_normal_exp) {
    mag = (static_cast<int64_t>(e + f.bias) << f.mant_bits) + n - (int64_t{1} << f.mant_bits);
  } else {
    mag = n;
  }
  if (mag > f.max_mag) return overflow;
  if (mag == 0 && f.uz) return 0;
  return static_cast<uint8_t>(sign | mag);
}

template <Float8Kind K>
struct Float8 {
  static constexpr Float8Kind kind = K;
  uint8_t bits = 0;
  Float8() = default;
  explicit Float8(float f, bool saturate = true) : bits(float_to_float8(f, K, saturate)) {}
  static Float8 from_bits(uint8_t b) {
    Float8 v;
    v.bits = b;
    return v;
  }
  explicit operator float() const { return float8_to_float(bits, K); }
};

using Float8E4M3FN = Float8<Float8Kind::kE4M3FN>;
using Float8E4M3FNUZ = Float8<Float8Kind::kE4M3FNUZ>;
using Float8E5M2 = Float8<Float8Kind::kE5M2>;
using Float8E5M2FNUZ = Float8<Float8Kind::kE5M2FNUZ>;

// A float as a 4-bit integer, as ONNX's Cast and QuantizeLinear do it: clamp to the range, then
// round half to even (NaN gives 0).
template <int Lo, int Hi>
int float_to_4bit(float f) {
  if (std::isnan(f)) return 0;
  const float c = f < static_cast<float>(Lo) ? static_cast<float>(Lo)
                  : f > static_cast<float>(Hi) ? static_cast<float>(Hi)
                                               : f;
  return static_cast<int>(std::nearbyint(c));
}

struct Int4 {
  int8_t value = 0;
  Int4() = default;
  explicit Int4(float f) : value(static_cast<int8_t>(float_to_4bit<-8, 7>(f))) {}
  static Int4 from_int(int v) {  // clamps
    Int4 r;
    r.value = static_cast<int8_t>(v < -8 ? -8 : v > 7 ? 7 : v);
    return r;
  }
  // Sign-extends the low nibble.
  int get() const { return ((value & 0x0f) ^ 0x08) - 0x08; }
  explicit operator float() const { return static_cast<float>(get()); }
};

struct UInt4 {
  uint8_t value = 0;
  UInt4() = default;
  explicit UInt4(float f) : value(static_cast<uint8_t>(float_to_4bit<0, 15>(f))) {}
  static UInt4 from_int(int v) {  // clamps
    UInt4 r;
    r.value = static_cast<uint8_t>(v < 0 ? 0 : v > 15 ? 15 : v);
    return r;
  }
  int get() const { return value & 0x0f; }
  explicit operator float() const { return static_cast<float>(get()); }
};

static_assert(sizeof(Float8E4M3FN) == 1 && sizeof(Float8E5M2FNUZ) == 1 && sizeof(Int4) == 1 &&
              sizeof(UInt4) == 1);

}  // namespace kiln
