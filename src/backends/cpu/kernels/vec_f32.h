// float32 vector traits for kiln's own cpu kernels, one static interface per ISA so that one
// kernel body serves all of them: VecF32x16 (AVX-512), VecF32x8 (AVX2 + FMA), and two portable
// ones: VecF32x4 (4 lanes in gcc/clang vector extensions; the softmax and attention bodies) and
// VecF32x1 (one plain float lane; the pointwise and reduction bodies, whose scalar results must
// follow the reference kernels' C library formulas lane by lane). The two portable types cover
// only what their bodies use.
//
// Why bodies are compiled per ISA by textual inclusion rather than as templates: gcc refuses to
// inline a target-specific intrinsic into a function compiled without that target, so a kernel
// includes its body file (a .inc, no #includes of its own) once per ISA, the x86 ones between
// KILN_VEC_BEGIN_<ISA> and KILN_VEC_END (a target pragma region), each time in its own namespace
// with `using V = VecF32x16` (or ...x8, ...x4, ...x1); every function defined there, lambdas
// included, is compiled for that ISA. Callers pick the namespace by vector_isa().
//
// Lane semantics follow x86's: max_raw(a, b) is `a > b ? a : b` and min_raw(a, b) `a < b ? a : b`
// (the second operand comes back when either is NaN, so a running max_raw(x, acc) skips NaN as
// the reference kernels' `if (v > mx)` loops do); comparisons are ordered (false on NaN). Every
// other op keeps a NaN operand NaN where IEEE arithmetic would.
//
// Two exp approximations, the same Cephes expf polynomial (about 1 ulp) with different ranges:
//  - V::exp_ftz (here): flushes results below e^-87 to 0, never producing a denormal (which costs
//    a microcode assist per instruction on some cores); for softmax/attention, where such terms
//    are negligible against the row's largest term (which is 1).
//  - v_exp in pointwise_body.inc, built on V::ldexp: the full float range down through the
//    subnormals, as the Exp operator and the activations built on it need.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

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

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// exp of anything below this is 0: e^−87 is 1.6e−38, just above the smallest normal float, so
// no result is ever denormal.
inline constexpr float kExpMin = -87.f;
// Constants of exp_ftz: exp(x) = 2^n · e^r with n = round(x·log2 e) and
// r = x − n·ln 2 in [−ln2/2, ln2/2] (ln 2 split in two so n·ln2_hi is exact), e^r by Cephes'
// expf polynomial (about 1 ulp).
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kExpP0 = 1.9875691500e-4f;
inline constexpr float kExpP1 = 1.3981999507e-3f;
inline constexpr float kExpP2 = 8.3334519073e-3f;
inline constexpr float kExpP3 = 4.1665795894e-2f;
inline constexpr float kExpP4 = 1.6666665459e-1f;
inline constexpr float kExpP5 = 5.0000001201e-1f;

struct VecF32x16 {
  using T = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr const char* kName = "avx512";  // as VecKernels report it

  KILN_TARGET_AVX512 static KILN_VEC_INLINE M first(int64_t n) { return static_cast<M>((1u << n) - 1u); }
  // True in lanes [0, n).
  KILN_TARGET_AVX512 static KILN_VEC_INLINE M head_mask(int64_t n) { return first(n); }
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
  KILN_TARGET_AVX512 static KILN_VEC_INLINE T exp_ftz(T x) {
    // Below −87 the result is 0 rather than a denormal (which costs a microcode assist per
    // instruction on some cores, and no softmax needs); above 88.8 it is inf (scalef
    // overflows). −inf gives 0 and NaN stays NaN (max/min return operand 2 on NaN).
    const __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpMin), _CMP_NLT_UQ);
    x = _mm512_max_ps(_mm512_set1_ps(kExpMin), x);
    x = _mm512_min_ps(_mm512_set1_ps(88.8f), x);
    const T n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    T p = _mm512_fmadd_ps(_mm512_set1_ps(kExpP0), r, _mm512_set1_ps(kExpP1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_maskz_mov_ps(normal, ldexp(p, n));
  }
  // dst[c·ds + r] = src[r·ss + c] for a W × W block.
  KILN_TARGET_AVX512 static KILN_VEC_INLINE void transpose(const float* src, int64_t ss, float* dst, int64_t ds) {
    T t[16], u[16], v[16];
    for (int r = 0; r < 16; r += 2) {
      const T a = _mm512_loadu_ps(src + r * ss), b = _mm512_loadu_ps(src + (r + 1) * ss);
      t[r] = _mm512_unpacklo_ps(a, b);  // per 128-bit lane L: a[4L], b[4L], a[4L+1], b[4L+1]
      t[r + 1] = _mm512_unpackhi_ps(a, b);
    }
    // u[4g + m]: column 4L + m of rows 4g..4g+3, in lane L.
    for (int g = 0; g < 4; ++g) {
      const T* q = t + 4 * g;
      u[4 * g + 0] = _mm512_shuffle_ps(q[0], q[2], 0x44);
      u[4 * g + 1] = _mm512_shuffle_ps(q[0], q[2], 0xEE);
      u[4 * g + 2] = _mm512_shuffle_ps(q[1], q[3], 0x44);
      u[4 * g + 3] = _mm512_shuffle_ps(q[1], q[3], 0xEE);
    }
    for (int m = 0; m < 4; ++m) {
      v[m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
      v[4 + m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
      v[8 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
      v[12 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
    }
    for (int m = 0; m < 4; ++m) {
      _mm512_storeu_ps(dst + m * ds, _mm512_shuffle_f32x4(v[m], v[8 + m], 0x88));
      _mm512_storeu_ps(dst + (8 + m) * ds, _mm512_shuffle_f32x4(v[m], v[8 + m], 0xDD));
      _mm512_storeu_ps(dst + (4 + m) * ds, _mm512_shuffle_f32x4(v[4 + m], v[12 + m], 0x88));
      _mm512_storeu_ps(dst + (12 + m) * ds, _mm512_shuffle_f32x4(v[4 + m], v[12 + m], 0xDD));
    }
  }
};

struct VecF32x8 {
  using T = __m256;
  using M = __m256;  // all-ones lanes where true
  static constexpr int W = 8;
  static constexpr const char* kName = "avx2";  // as VecKernels report it

  KILN_TARGET_AVX2 static KILN_VEC_INLINE __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  KILN_TARGET_AVX2 static KILN_VEC_INLINE M head_mask(int64_t n) { return _mm256_castsi256_ps(first(n)); }
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
  KILN_TARGET_AVX2 static KILN_VEC_INLINE T exp_ftz(T x) {
    // No scalef: 2^n by ldexp's two halves, so that n in [−126, 128] stays representable. Below
    // −87 the result is 0 (never a denormal, as in VecF32x16), above 88.72 inf.
    const T lo = _mm256_set1_ps(kExpMin), hi = _mm256_set1_ps(88.7228f);
    const T under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    x = _mm256_max_ps(lo, x);  // NaN stays in x (maxps returns operand 2 on NaN)
    x = _mm256_min_ps(hi, x);
    const T n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
    T p = _mm256_fmadd_ps(_mm256_set1_ps(kExpP0), r, _mm256_set1_ps(kExpP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    T y = ldexp(p, n);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
    return _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()), over);
  }
  // dst[c·ds + r] = src[r·ss + c] for a W × W block.
  KILN_TARGET_AVX2 static KILN_VEC_INLINE void transpose(const float* src, int64_t ss, float* dst, int64_t ds) {
    T t[8], u[8];
    for (int r = 0; r < 8; r += 2) {
      const T a = _mm256_loadu_ps(src + r * ss), b = _mm256_loadu_ps(src + (r + 1) * ss);
      t[r] = _mm256_unpacklo_ps(a, b);
      t[r + 1] = _mm256_unpackhi_ps(a, b);
    }
    for (int g = 0; g < 2; ++g) {  // u[4g + m]: column 4L + m of rows 4g..4g+3, in lane L
      const T* q = t + 4 * g;
      u[4 * g + 0] = _mm256_shuffle_ps(q[0], q[2], 0x44);
      u[4 * g + 1] = _mm256_shuffle_ps(q[0], q[2], 0xEE);
      u[4 * g + 2] = _mm256_shuffle_ps(q[1], q[3], 0x44);
      u[4 * g + 3] = _mm256_shuffle_ps(q[1], q[3], 0xEE);
    }
    for (int m = 0; m < 4; ++m) {
      _mm256_storeu_ps(dst + m * ds, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
      _mm256_storeu_ps(dst + (4 + m) * ds, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
    }
  }
};

// The portable body of softmax and attention: 4 lanes in gcc/clang vector extensions, no
// intrinsics, so it builds for any target (SSE2 on a baseline x86-64) and runs on any CPU.
struct VecF32x4 {
  using T = float __attribute__((vector_size(16)));
  using I = int32_t __attribute__((vector_size(16)));
  static constexpr int W = 4;
  static constexpr const char* kName = "scalar";  // as VecKernels report it

  static KILN_VEC_INLINE T zero() { return T{0.f, 0.f, 0.f, 0.f}; }
  static KILN_VEC_INLINE T set1(float x) { return T{x, x, x, x}; }
  static KILN_VEC_INLINE T load(const float* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static KILN_VEC_INLINE T load_n(const float* p, int64_t n, float fill = 0.f) {
    T v = set1(fill);
    for (int64_t l = 0; l < n; ++l) v[l] = p[l];
    return v;
  }
  static KILN_VEC_INLINE void store(float* p, T v) { std::memcpy(p, &v, sizeof(v)); }
  static KILN_VEC_INLINE void store_n(float* p, T v, int64_t n) {
    for (int64_t l = 0; l < n; ++l) p[l] = v[l];
  }
  static KILN_VEC_INLINE T add(T a, T b) { return a + b; }
  static KILN_VEC_INLINE T sub(T a, T b) { return a - b; }
  static KILN_VEC_INLINE T mul(T a, T b) { return a * b; }
  static KILN_VEC_INLINE T div(T a, T b) { return a / b; }
  static KILN_VEC_INLINE T fma(T a, T b, T c) { return a * b + c; }
  static KILN_VEC_INLINE T max_raw(T a, T b) { return a > b ? a : b; }  // NaN a: b
  static KILN_VEC_INLINE float reduce_max(T v) {
    float m = v[0];
    for (int l = 1; l < W; ++l) m = v[l] > m ? v[l] : m;
    return m;
  }
  static KILN_VEC_INLINE float reduce_add(T v) { return (v[0] + v[1]) + (v[2] + v[3]); }
  static KILN_VEC_INLINE T exp_ftz(T x) {
    // VecF32x8::exp_ftz's method in plain vector arithmetic (NaN lanes are zeroed before the int
    // conversion, which is undefined for NaN, and come back NaN through p).
    const I under = x < kExpMin, over = x > 88.7228f;
    x = x < kExpMin ? set1(kExpMin) : x;
    x = x > 88.7228f ? set1(88.7228f) : x;
    T t = x * kLog2e;
    t = t == t ? t : zero();
    const I ni = __builtin_convertvector(t + (t >= 0.f ? set1(0.5f) : set1(-0.5f)), I);  // round half away
    const T n = __builtin_convertvector(ni, T);
    T r = x - n * kLn2Hi;
    r = r - n * kLn2Lo;
    T p = set1(kExpP0) * r + kExpP1;
    p = p * r + kExpP2;
    p = p * r + kExpP3;
    p = p * r + kExpP4;
    p = p * r + kExpP5;
    p = p * (r * r) + (r + 1.f);
    const I n1 = ni >> 1, n2 = ni - n1;
    T f1, f2;
    const I b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
    std::memcpy(&f1, &b1, sizeof(f1));
    std::memcpy(&f2, &b2, sizeof(f2));
    T y = p * f1 * f2;
    y = under ? zero() : y;
    return over ? set1(std::numeric_limits<float>::infinity()) : y;
  }
  static KILN_VEC_INLINE void transpose(const float* src, int64_t ss, float* dst, int64_t ds) {
    for (int r = 0; r < W; ++r) {
      for (int c = 0; c < W; ++c) dst[c * ds + r] = src[r * ss + c];
    }
  }
};

// The portable body of the pointwise and reduction kernels: one lane, the same formulas.
struct VecF32x1 {
  using T = float;
  using M = bool;
  static constexpr int W = 1;
  static constexpr const char* kName = "scalar";  // as VecKernels report it

  static KILN_VEC_INLINE M head_mask(int64_t n) { return n > 0; }
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
