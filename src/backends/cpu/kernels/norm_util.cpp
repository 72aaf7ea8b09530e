// Row normalization bodies (see norm_util.h). A row is read three times (sum, squared deviations,
// output); a BERT row of 768 floats is 3 KiB, so the second and third reads hit L1.
//
// fp32 statistics, but not naive ones: E[x^2] - mean^2 loses every digit when the mean is large
// against the spread, and even a two-pass variance inherits the float mean's rounding (a row
// around 1000 has a mean off by ~1e-4, as large as the spread's own 1e-4). So the second pass
// also sums d = x - mean0 and corrects: delta = mean(d), var = mean(d^2) - delta^2, and the
// output is ((x - mean0) - delta) * inv, where x - mean0 is exact for x near the mean. 1/sqrt
// is taken in double once per row.
#include "backends/cpu/kernels/norm_util.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_isa.h"
#include "core/parallel.h"

namespace kiln::cpu {

namespace {

float inverse_std(float var, double eps) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(var) + eps));
}

KILN_TARGET_AVX512 void rows_avx512(const NormRows& j, int64_t r0, int64_t r1) {
  const int64_t n = j.cols;
  const int64_t nv = n & ~int64_t{15};
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - nv)) - 1u);
  const float fn = static_cast<float>(n);
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = j.x + r * n;
    float* y = j.y + r * n;
    float mean = 0.0f;
    int64_t i = 0;
    if (!j.rms) {
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
      for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
      }
      for (; i < nv; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
      if (i < n) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(tail, x + i));
      mean = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / fn;
    }
    const __m512 vm = _mm512_set1_ps(mean);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();  // sums of d^2
    __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();  // sums of d (LayerNorm)
    for (i = 0; i + 32 <= n; i += 32) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm);
      const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm);
      m0 = _mm512_add_ps(m0, d0);
      m1 = _mm512_add_ps(m1, d1);
      s0 = _mm512_fmadd_ps(d0, d0, s0);
      s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i < nv; i += 16) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm);
      m0 = _mm512_add_ps(m0, d);
      s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
      const __m512 d = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + i), vm);
      m1 = _mm512_add_ps(m1, d);
      s1 = _mm512_fmadd_ps(d, d, s1);
    }
    const float delta = j.rms ? 0.0f : _mm512_reduce_add_ps(_mm512_add_ps(m0, m1)) / fn;
    const float var =
        std::max(0.0f, _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / fn - delta * delta);
    const float inv = inverse_std(var, j.epsilon);
    if (j.mean) j.mean[r] = mean + delta;
    if (j.inv_std) j.inv_std[r] = inv;
    const __m512 vi = _mm512_set1_ps(inv), vd = _mm512_set1_ps(delta);
    if (j.bias) {
      for (i = 0; i < nv; i += 16) {
        const __m512 t =
            _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vd), vi);
        _mm512_storeu_ps(
            y + i, _mm512_fmadd_ps(t, _mm512_loadu_ps(j.scale + i), _mm512_loadu_ps(j.bias + i)));
      }
      if (i < n) {
        const __m512 t = _mm512_mul_ps(
            _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vm), vd), vi);
        _mm512_mask_storeu_ps(y + i, tail,
                              _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(tail, j.scale + i),
                                              _mm512_maskz_loadu_ps(tail, j.bias + i)));
      }
    } else {
      for (i = 0; i < nv; i += 16) {
        const __m512 t =
            _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vd), vi);
        _mm512_storeu_ps(y + i, _mm512_mul_ps(t, _mm512_loadu_ps(j.scale + i)));
      }
      if (i < n) {
        const __m512 t = _mm512_mul_ps(
            _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vm), vd), vi);
        _mm512_mask_storeu_ps(y + i, tail,
                              _mm512_mul_ps(t, _mm512_maskz_loadu_ps(tail, j.scale + i)));
      }
    }
  }
}

KILN_TARGET_AVX2 inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

KILN_TARGET_AVX2 void rows_avx2(const NormRows& j, int64_t r0, int64_t r1) {
  const int64_t n = j.cols;
  const int64_t nv = n & ~int64_t{7};
  // Lanes below the tail length load and store; the others read as zero and are left alone.
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - nv)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const float fn = static_cast<float>(n);
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = j.x + r * n;
    float* y = j.y + r * n;
    float mean = 0.0f;
    int64_t i = 0;
    if (!j.rms) {
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
      for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
      }
      for (; i < nv; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
      if (i < n) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, tail));
      mean = hsum_avx2(_mm256_add_ps(a0, a1)) / fn;
    }
    const __m256 vm = _mm256_set1_ps(mean);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();  // sums of d^2
    __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();  // sums of d (LayerNorm)
    for (i = 0; i + 16 <= n; i += 16) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
      m0 = _mm256_add_ps(m0, d0);
      m1 = _mm256_add_ps(m1, d1);
      s0 = _mm256_fmadd_ps(d0, d0, s0);
      s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i < nv; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
      m0 = _mm256_add_ps(m0, d);
      s0 = _mm256_fmadd_ps(d, d, s0);
    }
    if (i < n) {
      const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, tail), vm),
                                     _mm256_castsi256_ps(tail));
      m1 = _mm256_add_ps(m1, d);
      s1 = _mm256_fmadd_ps(d, d, s1);
    }
    const float delta = j.rms ? 0.0f : hsum_avx2(_mm256_add_ps(m0, m1)) / fn;
    const float var = std::max(0.0f, hsum_avx2(_mm256_add_ps(s0, s1)) / fn - delta * delta);
    const float inv = inverse_std(var, j.epsilon);
    if (j.mean) j.mean[r] = mean + delta;
    if (j.inv_std) j.inv_std[r] = inv;
    const __m256 vi = _mm256_set1_ps(inv), vd = _mm256_set1_ps(delta);
    if (j.bias) {
      for (i = 0; i < nv; i += 8) {
        const __m256 t =
            _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vd), vi);
        _mm256_storeu_ps(
            y + i, _mm256_fmadd_ps(t, _mm256_loadu_ps(j.scale + i), _mm256_loadu_ps(j.bias + i)));
      }
      if (i < n) {
        const __m256 t = _mm256_mul_ps(
            _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, tail), vm), vd), vi);
        _mm256_maskstore_ps(y + i, tail,
                            _mm256_fmadd_ps(t, _mm256_maskload_ps(j.scale + i, tail),
                                            _mm256_maskload_ps(j.bias + i, tail)));
      }
    } else {
      for (i = 0; i < nv; i += 8) {
        const __m256 t =
            _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vd), vi);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(t, _mm256_loadu_ps(j.scale + i)));
      }
      if (i < n) {
        const __m256 t = _mm256_mul_ps(
            _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, tail), vm), vd), vi);
        _mm256_maskstore_ps(y + i, tail, _mm256_mul_ps(t, _mm256_maskload_ps(j.scale + i, tail)));
      }
    }
  }
}

void rows_portable(const NormRows& j, int64_t r0, int64_t r1) {
  const int64_t n = j.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = j.x + r * n;
    float* y = j.y + r * n;
    float mean = 0.0f;
    if (!j.rms) {
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += x[i];
      mean = s / static_cast<float>(n);
    }
    float sd = 0.0f, ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float d = x[i] - mean;
      sd += d;
      ss += d * d;
    }
    const float delta = j.rms ? 0.0f : sd / static_cast<float>(n);
    const float inv =
        inverse_std(std::max(0.0f, ss / static_cast<float>(n) - delta * delta), j.epsilon);
    if (j.mean) j.mean[r] = mean + delta;
    if (j.inv_std) j.inv_std[r] = inv;
    for (int64_t i = 0; i < n; ++i) {
      const float t = ((x[i] - mean) - delta) * inv * j.scale[i];
      y[i] = j.bias ? t + j.bias[i] : t;
    }
  }
}

}  // namespace

void normalize_rows(const NormRows& job) {
  if (job.rows <= 0) return;
  if (job.cols == 0) {  // empty rows: the reference's statistics are mean 0 and variance 0
    for (int64_t r = 0; r < job.rows; ++r) {
      if (job.mean) job.mean[r] = 0.0f;
      if (job.inv_std) job.inv_std[r] = inverse_std(0.0f, job.epsilon);
    }
    return;
  }
  void (*body)(const NormRows&, int64_t, int64_t) = rows_portable;
  switch (vector_isa()) {
    case VectorIsa::kAvx512:
      body = rows_avx512;
      break;
    case VectorIsa::kAvx2:
      body = rows_avx2;
      break;
    case VectorIsa::kScalar:
      break;
  }
  struct Task {
    const NormRows* job;
    void (*body)(const NormRows&, int64_t, int64_t);
  } task{&job, body};
  // About 16K elements per thread: below that the parallel region costs more than it saves.
  parallel_for(job.rows, std::max<int64_t>(1, 16384 / job.cols),
               [&task](int64_t b, int64_t e) { task.body(*task.job, b, e); });
}

const float* per_column_params(const Tensor& t, const Dims& x_dims, int64_t axis, int64_t cols,
                               float* scratch) {
  const int64_t xr = static_cast<int64_t>(x_dims.size()), tr = t.rank();
  if (tr > xr || t.dtype() != DataType::kFloat32) return nullptr;
  const int64_t lead = xr - tr;  // x dims t does not reach
  bool exact = true;             // t is laid out exactly like the normalized dims
  for (int64_t p = 0; p < xr; ++p) {
    const int64_t xd = x_dims[static_cast<size_t>(p)];
    const int64_t td = p >= lead ? t.dim(p - lead) : 1;
    if (td != 1 && td != xd) return nullptr;
    if (p < axis && td != 1) return nullptr;
    if (p >= axis && td != xd) exact = false;
  }
  if (exact) return t.data_as<float>();
  const float* src = t.data_as<float>();
  for (int64_t c = 0; c < cols; ++c) {
    int64_t rest = c, off = 0, tstride = 1;
    for (int64_t p = xr - 1; p >= axis; --p) {
      const int64_t xd = x_dims[static_cast<size_t>(p)];
      const int64_t idx = rest % xd;
      rest /= xd;
      if (p >= lead) {
        const int64_t td = t.dim(p - lead);
        if (td != 1) off += idx * tstride;
        tstride *= td;
      }
    }
    scratch[c] = src[off];
  }
  return scratch;
}

float* norm_scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace kiln::cpu
