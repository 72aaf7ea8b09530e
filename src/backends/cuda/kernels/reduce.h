// ReduceSum, ReduceMean and ReduceMax for float32, float16 and bfloat16 over the two layouts a
// reduction's axes collapse to when they are adjacent: rows ([outer, R], reduced over R: trailing
// axes, e.g. NCHW global pooling) and the middle axis ([outer, R, inner], reduced over R: e.g.
// NHWC global pooling). Sums accumulate in fp32 and the result is rounded once (the reference
// accumulates in double). An empty reduction (R = 0) gives the reference's identity: 0 for Sum,
// NaN for Mean, -inf for Max. Max propagates NaN, as numpy's.
//
// Rows: a warp per row up to 1024 elements (4 rows per block), else a block of 512 threads, in
// 16-byte accesses when rows are whole packs and x is 16-byte aligned. Middle: a block of
// 32 (or fewer, for a narrow inner dim) columns times 8 (up to 32) slices of R, coalesced along
// inner. Each output is one group's; a single huge reduction therefore runs on one block (a
// split into partial sums, needing scratch memory, is still to come).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

enum class ReduceOp : uint8_t { kSum, kMean, kMax };

// y[o] = op over r of x[o, r].
cudaError_t reduce_rows(const void* x, void* y, DataType dt, ReduceOp op, int64_t outer,
                        int64_t reduced, cudaStream_t stream);

// y[o, i] = op over r of x[o, r, i].
cudaError_t reduce_middle(const void* x, void* y, DataType dt, ReduceOp op, int64_t outer,
                          int64_t reduced, int64_t inner, cudaStream_t stream);

}  // namespace kiln::cuda
