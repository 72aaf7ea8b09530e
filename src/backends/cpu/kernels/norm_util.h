// Row normalization shared by the cpu LayerNormalization and kiln.RMSNormalization kernels (f32):
// each row of `cols` contiguous elements is normalized with fp32 statistics, then scaled (and
// shifted) by per-column parameters. Rows run in parallel; each row has an AVX-512, an AVX2 and
// a portable body (cpu_isa.h).
#pragma once

#include <cstdint>

#include "backends/kernel.h"

namespace kiln::cpu {

struct NormRows {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0, cols = 0;
  const float* scale = nullptr;  // cols values
  const float* bias = nullptr;   // cols values, or null
  double epsilon = 0;
  // RMS: y = x / sqrt(mean(x^2) + eps) * scale. Otherwise LayerNorm:
  // y = (x - mean) / sqrt(var + eps) * scale + bias.
  bool rms = false;
  float* mean = nullptr;     // per row, when wanted (LayerNorm only)
  float* inv_std = nullptr;  // per row, when wanted
};

void normalize_rows(const NormRows& job);

// Fills job.x, rows, cols and epsilon for a normalization of x over its dims from `axis`
// (negative: counted from the end) on, and sets `norm_axis` to that axis made non-negative. False
// when x is not a float32 tensor of rank >= 1 or the axis is out of range: the caller then runs
// the reference kernel, which handles or reports it.
bool norm_rows_view(const Tensor* x, int64_t axis, double epsilon, NormRows& job,
                    int64_t& norm_axis);

// The per-column values of `t` (a parameter broadcast to x's shape) for rows formed by the dims
// before `axis`: t's data itself when it already is `cols` values laid out like the normalized
// dims, else expanded into `scratch` (cols floats). Null when t varies across rows or does not
// broadcast to x's shape; the caller then runs the reference kernel, which handles or reports it.
const float* per_column_params(const Tensor& t, const Dims& x_dims, int64_t axis, int64_t cols,
                               float* scratch);

// A per-thread float buffer of at least n values, grown only.
float* norm_scratch(size_t n);

}  // namespace kiln::cpu
