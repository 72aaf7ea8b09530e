// Pooling for float32, float16 and bfloat16: windowed max and average pools over 1 to 3 spatial
// axes (ONNX MaxPool / AveragePool, kiln.MaxPool) in either layout, and the global max pool.
//
// Both layouts are [outer, spatial..., inner]: channels-first (N, C, spatial...) is outer = N * C,
// inner = 1; channels-last (N, spatial..., C) is outer = N, inner = C. One thread computes one
// output position for one element of `inner`, or for 16 bytes of it when inner is a whole number
// of packs and the pointers are 16-byte aligned (channels-last with C a multiple of 4 / 8).
//
// The windows are the reference's (ir/ops/pool_norm/pool_geometry.h, reference build_taps): only
// in-bounds taps are read, in row-major order over the window. Max takes the first tap and then
// each later tap that is greater (so a NaN wins only as the first tap, and of equal values the
// first stays); average sums the taps in that order in fp32 and divides once by the number of
// taps (or by the kernel size with count_include_pad). An empty window gives 0. Both are therefore
// the reference's bits (its compute type for these dtypes is float).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

inline constexpr int kMaxPoolSpatialRank = 3;

enum class PoolOp : uint8_t {
  kMax,
  kAverage,            // divided by the taps inside the input
  kAverageIncludePad,  // divided by the kernel size
};

// One pooling: spatial axes 0 .. spatial_rank - 1 (outermost first); the window along axis d
// starting at output position o covers input positions o * strides[d] - pad_begin[d] +
// j * dilations[d], j < kernel[d].
struct PoolShape {
  int spatial_rank = 0;
  int64_t outer = 0;
  int64_t inner = 1;
  int64_t in[kMaxPoolSpatialRank] = {};
  int64_t out[kMaxPoolSpatialRank] = {};
  int64_t kernel[kMaxPoolSpatialRank] = {};
  int64_t strides[kMaxPoolSpatialRank] = {};
  int64_t dilations[kMaxPoolSpatialRank] = {};
  int64_t pad_begin[kMaxPoolSpatialRank] = {};
};

// Whether the shape is one the kernel takes: rank 1..3, sizes >= 0, kernels, strides and
// dilations >= 1, pads >= 0.
bool valid_pool_shape(const PoolShape& s);

// y[outer, out..., inner] = op over each window of x[outer, in..., inner].
cudaError_t pool(PoolOp op, const PoolShape& s, const void* x, void* y, DataType dt,
                 cudaStream_t stream);

// y[r] = max over i of x[r, i] for `rows` rows of `reduced` elements (GlobalMaxPool, channels
// first): the reference's order-dependent max, the first element and then every later one that
// is greater, so the result is NaN only when x[r, 0] is NaN, and 0 for an empty row.
cudaError_t global_max_rows(const void* x, void* y, DataType dt, int64_t rows, int64_t reduced,
                            cudaStream_t stream);

}  // namespace kiln::cuda
