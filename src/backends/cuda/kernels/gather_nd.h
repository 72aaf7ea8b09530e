// ONNX GatherND for every fixed-size dtype (elements moved as raw bytes of 1, 2, 4 or 8).
//
// With batch_dims b and indices' last dim k, data is viewed as [batches, rows, slice]: batches the
// product of data's first b dims, rows those of the next k (the dims an index tuple picks from),
// slice the product of the rest. Indices hold batches * tuples_per_batch tuples of k values; tuple
// t of batch t / tuples_per_batch picks one row, and y's t-th slice is that row's. Slices move in
// the widest unit (up to 16 bytes) that both pointers and the slice's byte length allow.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/common.h"
#include "kiln/dtype.h"

namespace kiln::cuda {

// The most dims one index tuple may address (k).
inline constexpr int kMaxGatherNdDepth = kMaxRank;

struct GatherNdShape {
  int64_t batches = 1;           // product of data's dims [0, b)
  int64_t tuples_per_batch = 1;  // product of indices' dims [b, q - 1)
  int depth = 0;                 // k: values per tuple, 1..kMaxGatherNdDepth
  int64_t dims[kMaxGatherNdDepth] = {};  // data's dims [b, b + k): the range of each tuple value
  int64_t slice = 1;             // product of data's dims [b + k, r): elements per gathered slice
};

// y[t, :] = data[batch(t), row(tuple t), :] for every tuple t (y holds batches *
// tuples_per_batch slices). indices holds the tuples as index_dt (int32 or int64) values; a
// negative value counts from the end of its dim. A tuple with a value outside [-dim, dim) gives a
// slice of zeros and sets *bad_index (a device int; may be null) to 1.
cudaError_t gather_nd(const void* data, const void* indices, DataType index_dt, const GatherNdShape& shape,
                      void* y, DataType dt, int* bad_index, cudaStream_t stream);

}  // namespace kiln::cuda
