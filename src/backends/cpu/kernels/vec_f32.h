// float32 vector traits for the cpu backend's pointwise and reduction kernels: VecF32x16
// (AVX-512), VecF32x8 (AVX2 + FMA) and VecF32x1 (portable), one static interface, so that one body
// (pointwise_body.inc) is compiled for each.
//
// Why textual inclusion rather than a template: gcc will not inline a target-specific intrinsic
// into a function compiled without that target, so the body is included once per ISA between
// KILN_VEC_BEGIN_<ISA> and KILN_VEC_END (a target pragma region), each time in its own namespace
// with `using V = ...`; every function defined there, lambdas included, is compiled for that ISA.
//
// Lane semantics follow x86's: max_raw(a, b) is `a > b ? a : b` and min_raw(a, b) `a < b ? a : b`
// (so the second operand comes back when either is NaN); comparisons are ordered (false on NaN).
// The portable VecF32x1 implements exactly these formulas, so all three bodies agree lane by lane
// up to the rounding of FMA contraction.
#pragma once

#include <immintrin.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "backends/cpu/cpu_isa.h"

#if defined(__clang__)
// (One string literal each: _Pragma does not concatenate.)
#define KILN_VEC_BEGIN_AVX512 \
  _Pragma("clang attribute push(__attribute__((target(\"avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c\"))), apply_to = function)")
#define KILN_VEC_BEGIN_AVX2 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define KILN_VEC_END _Pragma("clang attribute pop")
#else
#define KILN_VEC_BEGIN_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c\")")
#define KILN_VEC_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define KILN_VEC_END _Pragma("GCC pop_options")
#endif

#define KILN_VEC_INLINE inline __attribute__((always_inline))

namespace kiln::cpu::vec {

struct VecF32x16 {
  using T = __m512;
  using M = __mmask16;
  static constexpr int W = 16;

  KILN_TARGET_AVX512 static KILN_VEC_INLINE M first(int64_t n) { return static_cast<M>((1u << n) - 1u); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T zero() { return _mm512_setzero_ps(); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T set1(float x) { return _mm512_set1_ps(x); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T load(const float* p) { return _mm512_loadu_ps(p); }
  // Lanes [0, n) from p (n < W), `fill` elsewhere; lanes past n are not read.
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T load_n(const float* p, int64_t n, float fill = 0.f) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), first(n), p);
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE void store_n(float* p, T v, int64_t n) {
    _mm512_mask_storeu_ps(p, first(n), v);
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T add(T a, T b) { return _mm512_add_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T div(T a, T b) { return _mm512_div_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T sqrt(T a) { return _mm512_sqrt_ps(a); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T max_raw(T a, T b) { return _mm512_max_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T min_raw(T a, T b) { return _mm512_min_ps(a, b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T abs(T a) { return _mm512_abs_ps(a); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T neg(T a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
  }
  // |mag| with the sign bit of `sign`.
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T copysign(T mag, T sign) {
    const __m512i s = _mm512_set1_epi32(INT32_MIN);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(s, _mm512_castps_si512(sign), _mm512_castps_si512(mag), 0xca));  // s ? sign : mag
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T floor(T a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T ceil(T a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T round_even(T a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M lt(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M gt(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M ge(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M eq(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M isnan(T a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M mask_or(M a, M b) { return static_cast<M>(a | b); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE bool any(M m) { return m != 0; }
  // m ? t : f, lane by lane.
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T select(M m, T t, T f) { return _mm512_mask_blend_ps(m, f, t); }
  // p · 2^n for integral n in [-150, 128]; overflows to inf and underflows through the subnormals.
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T ldexp(T p, T n) { return _mm512_scalef_ps(p, n); }
  // x = m · 2^e with m in [0.5, 1), for finite x > 0 (subnormals included).
  KILN_TARGET_AVX512 static KILN_VEC_INLINE void frexp(T x, T& m, T& e) {
    m = _mm512_getmant_ps(x, _MM_MANT_NORM_p5_1, _MM_MANT_SIGN_src);
    e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.f));
  }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE float reduce_add(T v) { return _mm512_reduce_add_ps(v); }
  KILN_TARGET_AVX512 static KILN_VEC_INLINE float reduce_max(T v) { return _mm512_reduce_max_ps(v); }
};

struct VecF32x8 {
  using T = __m256;
  using M = __m256;  // all-ones lanes where true
  static constexpr int W = 8;

  KILN_TARGET_AVX2 static KILN_VEC_INLINE __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T zero() { return _mm256_setzero_ps(); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T set1(float x) { return _mm256_set1_ps(x); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T load(const float* p) { return _mm256_loadu_ps(p); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T load_n(const float* p, int64_t n, float fill = 0.f) {
    const __m256i m = first(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE void store_n(float* p, T v, int64_t n) { _mm256_maskstore_ps(p, first(n), v); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T add(T a, T b) { return _mm256_add_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T div(T a, T b) { return _mm256_div_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T sqrt(T a) { return _mm256_sqrt_ps(a); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T max_raw(T a, T b) { return _mm256_max_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T min_raw(T a, T b) { return _mm256_min_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T neg(T a) { return _mm256_xor_ps(_mm256_set1_ps(-0.f), a); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T copysign(T mag, T sign) {
    const T s = _mm256_set1_ps(-0.f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sign));
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T floor(T a) { return _mm256_floor_ps(a); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T ceil(T a) { return _mm256_ceil_ps(a); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T round_even(T a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M lt(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M gt(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M ge(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M eq(T a, T b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M isnan(T a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M mask_or(M a, M b) { return _mm256_or_ps(a, b); }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T select(M m, T t, T f) { return _mm256_blendv_ps(f, t, m); }
  // Two steps of at most 2^64 each keep every factor a normal float: n = n1 + n2, |n1|, |n2| <= 75.
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T ldexp(T p, T n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const T s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const T s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE void frexp(T x, T& m, T& e) {
    // Subnormals are scaled into the normal range first (2^25) and their exponent corrected.
    const T sub = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
    const T xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(33554432.f)), sub);
    const __m256i bits = _mm256_castps_si256(xs);
    const __m256i ex = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
    e = _mm256_sub_ps(_mm256_cvtepi32_ps(ex), _mm256_and_ps(sub, _mm256_set1_ps(25.f)));
    const __m256i mant = _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000));
    m = _mm256_castsi256_ps(mant);
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE float reduce_add(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE float reduce_max(T v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

// The portable body: one lane, the same formulas.
struct VecF32x1 {
  using T = float;
  using M = bool;
  static constexpr int W = 1;

  static KILN_VEC_INLINE T zero() { return 0.f; }
  static KILN_VEC_INLINE T set1(float x) { return x; }
  static KILN_VEC_INLINE T load(const float* p) { return *p; }
  static KILN_VEC_INLINE T load_n(const float* p, int64_t n, float fill = 0.f) { return n > 0 ? *p : fill; }
  static KILN_VEC_INLINE void store(float* p, T v) { *p = v; }
  static KILN_VEC_INLINE void store_n(float* p, T v, int64_t n) {
    if (n > 0) *p = v;
  }
  static KILN_VEC_INLINE T add(T a, T b) { return a + b; }
  static KILN_VEC_INLINE T sub(T a, T b) { return a - b; }
  static KILN_VEC_INLINE T mul(T a, T b) { return a * b; }
  static KILN_VEC_INLINE T div(T a, T b) { return a / b; }
  static KILN_VEC_INLINE T fma(T a, T b, T c) { return a * b + c; }
  static KILN_VEC_INLINE T sqrt(T a) { return std::sqrt(a); }
  static KILN_VEC_INLINE T max_raw(T a, T b) { return a > b ? a : b; }
  static KILN_VEC_INLINE T min_raw(T a, T b) { return a < b ? a : b; }
  static KILN_VEC_INLINE T abs(T a) { return std::fabs(a); }
  static KILN_VEC_INLINE T neg(T a) { return -a; }
  static KILN_VEC_INLINE T copysign(T mag, T sign) { return std::copysign(mag, sign); }
  static KILN_VEC_INLINE T floor(T a) { return std::floor(a); }
  static KILN_VEC_INLINE T ceil(T a) { return std::ceil(a); }
  static KILN_VEC_INLINE T round_even(T a) { return std::nearbyint(a); }
  static KILN_VEC_INLINE M lt(T a, T b) { return a < b; }
  static KILN_VEC_INLINE M gt(T a, T b) { return a > b; }
  static KILN_VEC_INLINE M ge(T a, T b) { return a >= b; }
  static KILN_VEC_INLINE M eq(T a, T b) { return a == b; }
  static KILN_VEC_INLINE M isnan(T a) { return std::isnan(a); }
  static KILN_VEC_INLINE M mask_or(M a, M b) { return a || b; }
  static KILN_VEC_INLINE bool any(M m) { return m; }
  static KILN_VEC_INLINE T select(M m, T t, T f) { return m ? t : f; }
  static KILN_VEC_INLINE T ldexp(T p, T n) {
    if (std::isnan(n)) return n;  // converting NaN to int is undefined
    return std::ldexp(p, static_cast<int>(n));
  }
  static KILN_VEC_INLINE void frexp(T x, T& m, T& e) {
    int ex = 0;
    m = std::frexp(x, &ex);
    e = static_cast<float>(ex);
  }
  static KILN_VEC_INLINE float reduce_add(T v) { return v; }
  static KILN_VEC_INLINE float reduce_max(T v) { return v; }
};

}  // namespace kiln::cpu::vec
