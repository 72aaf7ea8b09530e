// Softmax and LogSoftmax over the last axis of a [rows, cols] tensor, for float32, float16 and
// bfloat16, numerically stable (the row maximum is subtracted before exp), in fp32:
//   softmax:     y = exp(x - max) / sum(exp(x - max))
//   log_softmax: y = (x - max) - log(sum(exp(x - max)))
// A NaN in a row makes the whole row NaN, as in the reference kernel. Softmax over another axis
// is the caller's transpose (or a [outer, len, inner] kernel still to come).
//
// A row of up to 512 elements (256 without 16-byte accesses) is one warp's (4 rows per block), up
// to 16384 (8192) one block's, each thread holding its elements in registers (x read once); longer
// rows take two passes over x, the first keeping a running maximum and the sum rescaled to it
// (online softmax). Rows whose length is a multiple of 16 bytes, with x and y 16-byte aligned,
// move in 16-byte accesses.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

cudaError_t softmax(const void* x, void* y, DataType dt, int64_t rows, int64_t cols,
                    cudaStream_t stream);
cudaError_t log_softmax(const void* x, void* y, DataType dt, int64_t rows, int64_t cols,
                        cudaStream_t stream);

}  // namespace kiln::cuda
