// Data movement for every dtype (elements moved as raw bytes of 1, 2, 4 or 8): Transpose,
// Concat, Split, Slice (with steps), Gather along an axis and Expand, up to rank kMaxCopyRank.
//
// Shapes are collapsed on the host first (dims of 1 dropped, dims that move together merged), so
// most copies become a few long runs. Runs move in the widest unit, up to 16 bytes, that the
// pointers, the run lengths and the strides all allow. A transpose that moves the innermost dim
// goes through 32x32 tiles in shared memory, so both its reads and its writes are coalesced; the
// others read a strided view into a contiguous output.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/common.h"
#include "kiln/dtype.h"

namespace kiln::cuda {

inline constexpr int kMaxCopyRank = kMaxRank;
// Inputs of one Concat (outputs of one Split) per launch; more take several launches.
inline constexpr int kMaxCopySegments = 16;

// y = x with its dims permuted: y's dim j is x's dim perm[j]. dims and perm have `rank` entries.
cudaError_t transpose(const void* x, void* y, DataType dt, const int64_t* dims, const int64_t* perm,
                      int rank, cudaStream_t stream);

// Concat along an axis: inputs[k] is [outer, axis_lens[k], inner] and y is
// [outer, sum of axis_lens, inner]. Split is the reverse: x into outputs[k].
cudaError_t concat(const void* const* inputs, const int64_t* axis_lens, int count, void* y,
                   DataType dt, int64_t outer, int64_t inner, cudaStream_t stream);
cudaError_t split(const void* x, void* const* outputs, const int64_t* axis_lens, int count,
                  DataType dt, int64_t outer, int64_t inner, cudaStream_t stream);

// y[i_0, .., i_r-1] = x[starts[0] + i_0 * steps[0], ..] for y's dims y_dims: starts and steps are
// those ONNX Slice ends up with per axis (the reference's slice_axis: starts clamped into range,
// steps non-zero and possibly negative; an axis not sliced has start 0, step 1). Every index read
// must lie inside x (cudaErrorInvalidValue otherwise).
cudaError_t slice(const void* x, const int64_t* x_dims, int rank, const int64_t* starts,
                  const int64_t* steps, void* y, const int64_t* y_dims, DataType dt,
                  cudaStream_t stream);

// Gather along an axis: data is [outer, axis_len, inner], indices holds num_indices values of
// index_dt (int32 or int64; negative ones count from the end) and y is [outer, num_indices, inner].
// An index outside [-axis_len, axis_len) gives zeros and sets *bad_index (a device int; may be
// null) to 1, so the caller can report the error the reference kernel reports.
cudaError_t gather(const void* data, const void* indices, DataType index_dt, int64_t num_indices,
                   void* y, DataType dt, int64_t outer, int64_t axis_len, int64_t inner,
                   int* bad_index, cudaStream_t stream);

// Expand: y (y_dims, `rank` dims) = x broadcast to it. x has x_rank <= rank dims, aligned with
// y's last ones, each 1 or y's dim (a dim of 1 is read again along y's). Moves as a strided view
// of x with stride 0 along the broadcast dims.
cudaError_t expand(const void* x, const int64_t* x_dims, int x_rank, void* y, const int64_t* y_dims,
                   int rank, DataType dt, cudaStream_t stream);

// --- host-side planning (exposed for tests) ----------------------------------------------------

// A view of `rank` dims whose element (i_0, ..) is at offset + sum of i_d * strides[d] elements
// (strides may be 0 or negative), read in row-major order.
struct StridedView {
  int rank = 0;
  int64_t dims[kMaxCopyRank] = {};
  int64_t strides[kMaxCopyRank] = {};
  int64_t offset = 0;
};

// The same view with dims of 1 dropped and adjacent dims merged where one step of the outer is a
// whole pass of the inner (strides[d] == strides[d + 1] * dims[d + 1]).
StridedView collapse_view(const StridedView& view);

// A transpose with x's dims of 1 dropped and x's dims that stay adjacent and in order in y merged.
struct TransposeShape {
  int rank = 0;
  int64_t dims[kMaxCopyRank] = {};  // x's collapsed dims
  int perm[kMaxCopyRank] = {};      // y's collapsed dim j is x's collapsed dim perm[j]
};

// False unless perm is a permutation of 0..rank-1 and rank <= kMaxCopyRank.
bool collapse_transpose(const int64_t* dims, const int64_t* perm, int rank, TransposeShape* shape);

}  // namespace kiln::cuda
