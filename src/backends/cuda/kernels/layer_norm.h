// LayerNormalization and kiln.RMSNormalization over the last axis of a [rows, cols] tensor (the
// normalized dims flattened into cols), for float32, float16 and bfloat16. Statistics are fp32;
// each output element is computed in fp32 and rounded once (the reference kernels use double).
//
// A row of up to 512 elements (256 without 16-byte accesses) is one warp's (4 rows per block), up
// to 16384 (8192) one block's, each thread holding its elements in registers, so x is read once;
// longer rows are read three times (sum, centred squares, output) by one block each. Rows whose
// length is a multiple of 16 bytes, with x, y and the parameters 16-byte aligned, move in 16-byte
// accesses.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

// y[r, c] = (x[r, c] - mean_r) / sqrt(var_r + epsilon) * gamma[c] + beta[c], with mean_r and the
// biased variance var_r over row r. gamma and beta (beta may be null: no shift) hold `cols`
// elements of dtype dt: parameters that broadcast to the normalized dims in another way are
// expanded by the caller. mean and inv_std, when not null, receive each row's mean and
// 1 / sqrt(var + epsilon) in fp32 (ONNX's optional outputs 1 and 2).
cudaError_t layer_norm(const void* x, const void* gamma, const void* beta, void* y, float* mean,
                       float* inv_std, DataType dt, int64_t rows, int64_t cols, float epsilon,
                       cudaStream_t stream);

// kiln.RMSNormalization: y[r, c] = x[r, c] / sqrt(mean over c of x[r, c]² + epsilon) * scale[c];
// scale holds `cols` elements of dtype dt.
cudaError_t rms_norm(const void* x, const void* scale, void* y, DataType dt, int64_t rows,
                     int64_t cols, float epsilon, cudaStream_t stream);

}  // namespace kiln::cuda
