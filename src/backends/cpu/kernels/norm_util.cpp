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

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/kernels/vec_f32.h"
#include "core/parallel.h"

namespace kiln::cpu {

namespace {

float inverse_std(float var, double eps) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(var) + eps));
}

}  // namespace

namespace norm_isa {
#define KILN_VEC_BODY "backends/cpu/kernels/norm_body.inc"
#include "backends/cpu/kernels/vec_per_isa.inc"
}  // namespace norm_isa

namespace {

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
      body = norm_isa::avx512::rows;
      break;
    case VectorIsa::kAvx2:
      body = norm_isa::avx2::rows;
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

bool norm_rows_view(const Tensor* x, int64_t axis, double epsilon, NormRows& job,
                    int64_t& norm_axis) {
  if (!x || x->dtype() != DataType::kFloat32 || x->rank() < 1) return false;
  const int64_t rank = x->rank();
  if (axis < -rank || axis >= rank) return false;
  norm_axis = axis < 0 ? axis + rank : axis;
  job.rows = 1;
  job.cols = 1;
  for (int64_t d = 0; d < rank; ++d) (d < norm_axis ? job.rows : job.cols) *= x->dim(d);
  job.x = x->data_as<float>();
  job.epsilon = epsilon;
  return true;
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
