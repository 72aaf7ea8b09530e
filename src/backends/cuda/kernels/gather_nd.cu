#include <algorithm>
#include <limits>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/gather_nd.h"

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

// Counts up to which the kernel indexes with int32_t: half the range, so that a grid-stride loop
// index (below the count plus the grid's thread count) cannot overflow either.
constexpr int64_t kNarrowLimit = std::numeric_limits<int32_t>::max() / 2;

template <typename U, typename Index, typename I>
struct GatherNdArgs {
  const U* data;
  const I* indices;
  U* y;
  int* bad_index;
  int depth;
  Index tuples_per_batch;
  Index rows_per_batch;               // product of dims[0, depth)
  int64_t dims[kMaxGatherNdDepth];    // each tuple value's range
  Index row_strides[kMaxGatherNdDepth];  // rows one step of each tuple value moves
  Index slice_units;
  Index total;  // units of y
};

// One unit of y per thread and step. Every unit of a slice reads its tuple again; the tuple is a
// few bytes that the units of one slice, in neighbouring threads, read from the same cache line.
template <typename U, typename Index, typename I>
__global__ void gather_nd_kernel(const __grid_constant__ GatherNdArgs<U, Index, I> a) {
  for (Index u = blockIdx.x * blockDim.x + threadIdx.x; u < a.total; u += gridDim.x * blockDim.x) {
    const Index t = u / a.slice_units, c = u - t * a.slice_units;
    const I* tuple = a.indices + static_cast<int64_t>(t) * a.depth;
    Index row = (t / a.tuples_per_batch) * a.rows_per_batch;
    bool in_range = true;
    for (int e = 0; e < a.depth; ++e) {
      int64_t v = static_cast<int64_t>(tuple[e]);
      if (v < 0) v += a.dims[e];
      in_range &= v >= 0 && v < a.dims[e];
      row += static_cast<Index>(in_range ? v : 0) * a.row_strides[e];
    }
    if (!in_range) {
      a.y[u] = U{};
      if (a.bad_index) *a.bad_index = 1;
      continue;
    }
    a.y[u] = a.data[row * a.slice_units + c];
  }
}

bool divides(size_t unit, int64_t bytes) { return bytes % static_cast<int64_t>(unit) == 0; }
bool divides(size_t unit, const void* p) { return reinterpret_cast<uintptr_t>(p) % unit == 0; }

template <typename U, typename Index, typename I>
cudaError_t launch(const void* data, const void* indices, const GatherNdShape& s, int64_t slice_units,
                   int64_t rows_per_batch, void* y, int* bad_index, cudaStream_t stream) {
  GatherNdArgs<U, Index, I> a{};
  a.data = static_cast<const U*>(data);
  a.indices = static_cast<const I*>(indices);
  a.y = static_cast<U*>(y);
  a.bad_index = bad_index;
  a.depth = s.depth;
  a.tuples_per_batch = static_cast<Index>(s.tuples_per_batch);
  a.rows_per_batch = static_cast<Index>(rows_per_batch);
  int64_t stride = 1;
  for (int e = s.depth - 1; e >= 0; --e) {
    a.dims[e] = s.dims[e];
    a.row_strides[e] = static_cast<Index>(stride);
    stride *= s.dims[e];
  }
  a.slice_units = static_cast<Index>(slice_units);
  a.total = static_cast<Index>(s.batches * s.tuples_per_batch * slice_units);
  gather_nd_kernel<U, Index, I><<<grid_blocks(a.total, kThreads), kThreads, 0, stream>>>(a);
  return launch_error();
}

}  // namespace

cudaError_t gather_nd(const void* data, const void* indices, DataType index_dt, const GatherNdShape& s,
                      void* y, DataType dt, int* bad_index, cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  if (es == 0 || (index_dt != DataType::kInt32 && index_dt != DataType::kInt64))
    return cudaErrorInvalidValue;
  if (s.depth < 1 || s.depth > kMaxGatherNdDepth || s.batches < 0 || s.tuples_per_batch < 0 ||
      s.slice < 0)
    return cudaErrorInvalidValue;
  int64_t rows_per_batch = 1;
  for (int e = 0; e < s.depth; ++e) {
    if (s.dims[e] < 0) return cudaErrorInvalidValue;
    rows_per_batch *= s.dims[e];
  }
  const int64_t slices = s.batches * s.tuples_per_batch;
  if (slices == 0 || s.slice == 0) return cudaSuccess;
  const int64_t data_elems = s.batches * rows_per_batch * s.slice;
  if (!indices || !y || (data_elems > 0 && !data)) return cudaErrorInvalidValue;
  size_t unit = 16;
  while (unit > es &&
         !(divides(unit, data) && divides(unit, y) && divides(unit, s.slice * static_cast<int64_t>(es)))) {
    unit /= 2;
  }
  const int64_t slice_units = s.slice * static_cast<int64_t>(es) / static_cast<int64_t>(unit);
  const int64_t units = slices * slice_units;
  const int64_t data_units = s.batches * rows_per_batch * slice_units;
  const bool narrow = std::max(units, data_units) <= kNarrowLimit;
  auto by_index = [&](auto unit_tag) -> cudaError_t {
    using U = typename decltype(unit_tag)::type;
    if (index_dt == DataType::kInt32) {
      return narrow ? launch<U, int32_t, int32_t>(data, indices, s, slice_units, rows_per_batch, y, bad_index, stream)
                    : launch<U, int64_t, int32_t>(data, indices, s, slice_units, rows_per_batch, y, bad_index, stream);
    }
    return narrow ? launch<U, int32_t, int64_t>(data, indices, s, slice_units, rows_per_batch, y, bad_index, stream)
                  : launch<U, int64_t, int64_t>(data, indices, s, slice_units, rows_per_batch, y, bad_index, stream);
  };
  switch (unit) {
    case 1:
      return by_index(TypeTag<uint8_t>{});
    case 2:
      return by_index(TypeTag<uint16_t>{});
    case 4:
      return by_index(TypeTag<uint32_t>{});
    case 8:
      return by_index(TypeTag<uint2>{});
    default:
      return by_index(TypeTag<uint4>{});
  }
}

}  // namespace kiln::cuda
