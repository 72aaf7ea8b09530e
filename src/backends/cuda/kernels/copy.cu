#include <algorithm>
#include <limits>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/copy.h"

namespace kiln::cuda {

StridedView collapse_view(const StridedView& view) {
  StridedView out;
  out.offset = view.offset;
  for (int d = 0; d < view.rank; ++d) {
    if (view.dims[d] == 1) continue;
    const int last = out.rank - 1;
    if (last >= 0 && out.strides[last] == view.strides[d] * view.dims[d]) {
      out.dims[last] *= view.dims[d];
      out.strides[last] = view.strides[d];
      continue;
    }
    out.dims[out.rank] = view.dims[d];
    out.strides[out.rank] = view.strides[d];
    ++out.rank;
  }
  return out;
}

bool collapse_transpose(const int64_t* dims, const int64_t* perm, int rank, TransposeShape* shape) {
  if (rank < 0 || rank > kMaxCopyRank) return false;
  bool seen[kMaxCopyRank] = {};
  for (int j = 0; j < rank; ++j) {
    if (perm[j] < 0 || perm[j] >= rank || seen[perm[j]]) return false;
    seen[perm[j]] = true;
  }
  // x's dims other than 1, renumbered in order, and the order y reads them in.
  int renumber[kMaxCopyRank];
  int64_t kept_dims[kMaxCopyRank];
  int kept = 0;
  for (int d = 0; d < rank; ++d) {
    renumber[d] = dims[d] == 1 ? -1 : kept;
    if (dims[d] != 1) kept_dims[kept++] = dims[d];
  }
  int order[kMaxCopyRank];
  int n = 0;
  for (int j = 0; j < rank; ++j) {
    if (renumber[perm[j]] >= 0) order[n++] = renumber[perm[j]];
  }
  // Runs of consecutive x dims in y's order become one dim (groups numbered in y's order).
  int groups = 0;
  int group_first[kMaxCopyRank];
  int64_t group_size[kMaxCopyRank];
  for (int j = 0; j < n; ++j) {
    if (j > 0 && order[j] == order[j - 1] + 1) {
      group_size[groups - 1] *= kept_dims[order[j]];
      continue;
    }
    group_first[groups] = order[j];
    group_size[groups] = kept_dims[order[j]];
    ++groups;
  }
  // x's collapsed dims are the groups in x's order, that is by their first dim.
  TransposeShape s;
  s.rank = groups;
  for (int g = 0; g < groups; ++g) {
    int position = 0;
    for (int h = 0; h < groups; ++h) position += group_first[h] < group_first[g] ? 1 : 0;
    s.dims[position] = group_size[g];
    s.perm[g] = position;
  }
  *shape = s;
  return true;
}

namespace {

constexpr int kThreads = 256;

// Counts up to which the kernels index with int32_t: half the range, so that a grid-stride loop
// index (below the count plus the grid's thread count) cannot overflow either.
constexpr int64_t kNarrowLimit = std::numeric_limits<int32_t>::max() / 2;

// 16 bytes as a copy unit.
using Unit16 = uint4;
using Unit8 = uint2;

// fn(TypeTag<U>{}) for the unsigned type of `bytes` bytes (1, 2, 4, 8, 16).
template <typename Fn>
cudaError_t dispatch_unit(size_t bytes, Fn&& fn) {
  switch (bytes) {
    case 1:
      return fn(TypeTag<uint8_t>{});
    case 2:
      return fn(TypeTag<uint16_t>{});
    case 4:
      return fn(TypeTag<uint32_t>{});
    case 8:
      return fn(TypeTag<Unit8>{});
    case 16:
      return fn(TypeTag<Unit16>{});
    default:
      return cudaErrorInvalidValue;
  }
}

bool divides(size_t unit, int64_t bytes) {
  return (bytes < 0 ? -bytes : bytes) % static_cast<int64_t>(unit) == 0;
}
bool divides(size_t unit, const void* p) { return reinterpret_cast<uintptr_t>(p) % unit == 0; }

// --- strided view -> contiguous ----------------------------------------------------------------

template <typename U, typename Index>
struct StridedCopyArgs {
  const U* src;  // element (0, .., 0) of the view
  U* dst;
  int rank;
  Index dims[kMaxRank];
  Index strides[kMaxRank];
  Index numel;
};

template <typename U, typename Index>
__global__ void strided_copy_kernel(const __grid_constant__ StridedCopyArgs<U, Index> a) {
  for (Index u = blockIdx.x * blockDim.x + threadIdx.x; u < a.numel; u += gridDim.x * blockDim.x) {
    Index idx[kMaxRank];
    unravel(a.dims, a.rank, u, idx);
    Index offset = 0;
#pragma unroll
    for (int d = 0; d < kMaxRank; ++d) {
      if (d < a.rank) offset += idx[d] * a.strides[d];
    }
    a.dst[u] = a.src[offset];
  }
}

template <typename U, typename Index>
cudaError_t launch_strided_copy(const void* src, const StridedView& v, void* dst,
                                cudaStream_t stream) {
  StridedCopyArgs<U, Index> a{};
  a.src = static_cast<const U*>(src);
  a.dst = static_cast<U*>(dst);
  a.rank = v.rank;
  a.numel = 1;
  for (int d = 0; d < v.rank; ++d) {
    a.dims[d] = static_cast<Index>(v.dims[d]);
    a.strides[d] = static_cast<Index>(v.strides[d]);
    a.numel *= a.dims[d];
  }
  strided_copy_kernel<U, Index><<<grid_blocks(a.numel, kThreads), kThreads, 0, stream>>>(a);
  return launch_error();
}

// Reads the view (elements of es bytes from src; collapsed, numel > 0) into dst in row-major
// order. A contiguous innermost dim moves in the widest unit that every address, stride and the
// run length allow.
cudaError_t strided_copy(const void* src, StridedView v, size_t es, void* dst,
                         cudaStream_t stream) {
  const char* base = static_cast<const char*>(src) + v.offset * static_cast<int64_t>(es);
  v.offset = 0;
  size_t unit = es;
  if (v.rank > 0 && v.strides[v.rank - 1] == 1) {
    const int inner = v.rank - 1;
    for (size_t u = 16; u > es; u /= 2) {
      bool ok = divides(u, base) && divides(u, dst) &&
                divides(u, v.dims[inner] * static_cast<int64_t>(es));
      for (int d = 0; d < inner && ok; ++d)
        ok = divides(u, v.strides[d] * static_cast<int64_t>(es));
      if (ok) {
        unit = u;
        break;
      }
    }
    const int64_t per_unit = static_cast<int64_t>(unit / es);
    v.dims[inner] /= per_unit;
    for (int d = 0; d < inner; ++d) v.strides[d] /= per_unit;
  }
  int64_t numel = 1, span = 0;
  for (int d = 0; d < v.rank; ++d) {
    numel *= v.dims[d];
    span += (v.dims[d] - 1) * (v.strides[d] < 0 ? -v.strides[d] : v.strides[d]);
  }
  const bool narrow = numel <= kNarrowLimit && span <= kNarrowLimit;
  return dispatch_unit(unit, [&](auto tag) {
    using U = typename decltype(tag)::type;
    return narrow ? launch_strided_copy<U, int32_t>(base, v, dst, stream)
                  : launch_strided_copy<U, int64_t>(base, v, dst, stream);
  });
}

// --- tiled transpose -----------------------------------------------------------------------------

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threads along a tile's rows: each thread moves kTile / kTileRows
constexpr int kTileThreads = kTile * kTileRows;

// x's innermost dim `a` (stride 1) moves to y position other than last; y's innermost dim is x's
// dim `b` (stride 1 in y). The other dims are the batch.
template <typename U>
struct TileArgs {
  const U* x;
  U* y;
  int64_t a_len, b_len;
  int64_t b_x_stride;  // x's stride along b
  int64_t a_y_stride;  // y's stride along a
  int batch_rank;
  int64_t batch_dims[kMaxRank];
  int64_t batch_x_strides[kMaxRank];
  int64_t batch_y_strides[kMaxRank];
  int64_t tiles_a, tiles_b, tiles;
};

template <typename U>
__global__ void __launch_bounds__(kTileThreads)
    transpose_tiled_kernel(const __grid_constant__ TileArgs<U> a) {
  __shared__ U tile[kTile][kTile + 1];  // +1: column reads hit distinct banks
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < a.tiles; t += gridDim.x) {
    const int64_t ta = t % a.tiles_a, rest = t / a.tiles_a;
    const int64_t tb = rest % a.tiles_b;
    int64_t batch = rest / a.tiles_b, x_base = 0, y_base = 0;
#pragma unroll
    for (int d = kMaxRank - 1; d >= 0; --d) {
      if (d >= a.batch_rank) continue;
      const int64_t i = batch % a.batch_dims[d];
      batch /= a.batch_dims[d];
      x_base += i * a.batch_x_strides[d];
      y_base += i * a.batch_y_strides[d];
    }
    const int64_t a0 = ta * kTile, b0 = tb * kTile;
    // Read rows along b, each a coalesced run along a (x's innermost).
#pragma unroll
    for (int r = ty; r < kTile; r += kTileRows) {
      if (b0 + r < a.b_len && a0 + tx < a.a_len)
        tile[r][tx] = a.x[x_base + (b0 + r) * a.b_x_stride + a0 + tx];
    }
    __syncthreads();
    // Write rows along a, each a coalesced run along b (y's innermost).
#pragma unroll
    for (int r = ty; r < kTile; r += kTileRows) {
      if (a0 + r < a.a_len && b0 + tx < a.b_len)
        a.y[y_base + (a0 + r) * a.a_y_stride + b0 + tx] = tile[tx][r];
    }
    __syncthreads();  // the tile is refilled for the next t
  }
}

template <typename U>
cudaError_t launch_tiled(const void* x, void* y, const TransposeShape& s, cudaStream_t stream) {
  const int r = s.rank;
  int64_t x_strides[kMaxRank], y_strides_of_x_dim[kMaxRank];
  int64_t stride = 1;
  for (int d = r - 1; d >= 0; --d) {
    x_strides[d] = stride;
    stride *= s.dims[d];
  }
  stride = 1;
  for (int j = r - 1; j >= 0; --j) {
    y_strides_of_x_dim[s.perm[j]] = stride;
    stride *= s.dims[s.perm[j]];
  }
  const int dim_a = r - 1, dim_b = s.perm[r - 1];
  TileArgs<U> a{};
  a.x = static_cast<const U*>(x);
  a.y = static_cast<U*>(y);
  a.a_len = s.dims[dim_a];
  a.b_len = s.dims[dim_b];
  a.b_x_stride = x_strides[dim_b];
  a.a_y_stride = y_strides_of_x_dim[dim_a];
  int64_t batches = 1;
  for (int d = 0; d < r; ++d) {
    if (d == dim_a || d == dim_b) continue;
    a.batch_dims[a.batch_rank] = s.dims[d];
    a.batch_x_strides[a.batch_rank] = x_strides[d];
    a.batch_y_strides[a.batch_rank] = y_strides_of_x_dim[d];
    ++a.batch_rank;
    batches *= s.dims[d];
  }
  a.tiles_a = (a.a_len + kTile - 1) / kTile;
  a.tiles_b = (a.b_len + kTile - 1) / kTile;
  a.tiles = a.tiles_a * a.tiles_b * batches;
  const dim3 block(kTile, kTileRows);
  transpose_tiled_kernel<U>
      <<<grid_blocks(a.tiles * kTileThreads, kTileThreads), block, 0, stream>>>(a);
  return launch_error();
}

// --- narrow transpose ----------------------------------------------------------------------------

// The widest y-innermost dim the narrow kernel takes: below a tile's width the tiled kernel leaves
// most of its threads idle (NCHW -> NHWC of a 3-channel image: 3 of every 32).
constexpr int64_t kNarrowMax = 16;

// y[n][a][b] = x[n][b][a] for a short b: one thread per (n, a) reads its b elements from b rows of
// x (consecutive threads, consecutive a: coalesced) and writes them as one run.
template <typename U>
__global__ void transpose_narrow_kernel(const U* __restrict__ x, U* __restrict__ y, int64_t batches, int64_t a_len, int b_len) {
  const int64_t total = batches * a_len;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / a_len, a = i - n * a_len;
    const U* src = x + n * b_len * a_len + a;
    U* dst = y + i * b_len;
    for (int b = 0; b < b_len; ++b) dst[b] = src[b * a_len];
  }
}

template <typename U>
cudaError_t launch_narrow(const void* x, void* y, int64_t batches, int64_t a_len, int64_t b_len, cudaStream_t stream) {
  constexpr int kThreads = 256;
  transpose_narrow_kernel<U><<<grid_blocks(batches * a_len, kThreads), kThreads, 0, stream>>>(
      static_cast<const U*>(x), static_cast<U*>(y), batches, a_len, static_cast<int>(b_len));
  return launch_error();
}

// --- batched 2-D copies (Concat, Split) ----------------------------------------------------------

// `rows` rows of row_bytes, from src (rows src_pitch bytes apart) to dst (dst_pitch apart).
struct Segment {
  const char* src;
  char* dst;
  int64_t src_pitch, dst_pitch, row_bytes, rows;
};

template <typename U, typename Index>
struct SegmentArgs {
  const U* src[kMaxCopySegments];
  U* dst[kMaxCopySegments];
  Index src_pitch[kMaxCopySegments], dst_pitch[kMaxCopySegments], row_units[kMaxCopySegments],
      units[kMaxCopySegments];
};

// blockIdx.y picks the segment; its units are spread over the x blocks, so rows of any length
// (one unit, or a whole tensor) keep every thread busy.
template <typename U, typename Index>
__global__ void copy_segments_kernel(const __grid_constant__ SegmentArgs<U, Index> a) {
  const int s = blockIdx.y;
  const Index row_units = a.row_units[s];
  for (Index u = blockIdx.x * blockDim.x + threadIdx.x; u < a.units[s];
       u += gridDim.x * blockDim.x) {
    const Index row = u / row_units, c = u - row * row_units;
    a.dst[s][row * a.dst_pitch[s] + c] = a.src[s][row * a.src_pitch[s] + c];
  }
}

template <typename U, typename Index>
cudaError_t launch_segments(const Segment* segs, int count, cudaStream_t stream) {
  SegmentArgs<U, Index> a{};
  Index most = 0;
  for (int k = 0; k < count; ++k) {
    a.src[k] = reinterpret_cast<const U*>(segs[k].src);
    a.dst[k] = reinterpret_cast<U*>(segs[k].dst);
    a.src_pitch[k] = static_cast<Index>(segs[k].src_pitch / static_cast<int64_t>(sizeof(U)));
    a.dst_pitch[k] = static_cast<Index>(segs[k].dst_pitch / static_cast<int64_t>(sizeof(U)));
    a.row_units[k] = static_cast<Index>(segs[k].row_bytes / static_cast<int64_t>(sizeof(U)));
    a.units[k] = a.row_units[k] * static_cast<Index>(segs[k].rows);
    most = std::max(most, a.units[k]);
  }
  // The resident blocks shared among the segments (each gets at least one).
  const int resident = grid_blocks(std::numeric_limits<int64_t>::max() / 2, kThreads);
  const int per_segment = std::max(1, std::min(grid_blocks(most, kThreads), resident / count));
  copy_segments_kernel<U, Index><<<dim3(per_segment, count), kThreads, 0, stream>>>(a);
  return launch_error();
}

// Copies the segments (empty ones skipped), kMaxCopySegments per launch.
cudaError_t copy_segments(const Segment* segs, int count, size_t es, cudaStream_t stream) {
  Segment batch[kMaxCopySegments];
  int n = 0;
  for (int k = 0; k <= count; ++k) {
    if (k < count && segs[k].rows > 0 && segs[k].row_bytes > 0) batch[n++] = segs[k];
    if (n == 0 || (n < kMaxCopySegments && k < count)) continue;
    size_t unit = 16;
    for (; unit > es; unit /= 2) {
      bool ok = true;
      for (int i = 0; i < n && ok; ++i) {
        ok = divides(unit, batch[i].src) && divides(unit, batch[i].dst) &&
             divides(unit, batch[i].src_pitch) && divides(unit, batch[i].dst_pitch) &&
             divides(unit, batch[i].row_bytes);
      }
      if (ok) break;
    }
    bool narrow = true;
    for (int i = 0; i < n; ++i) {
      const int64_t reach = std::max(batch[i].src_pitch, batch[i].dst_pitch) * batch[i].rows;
      narrow = narrow && reach / static_cast<int64_t>(unit) <= kNarrowLimit;
    }
    KILN_CUDA_RETURN_IF_ERROR(dispatch_unit(unit, [&](auto tag) {
      using U = typename decltype(tag)::type;
      return narrow ? launch_segments<U, uint32_t>(batch, n, stream)
                    : launch_segments<U, int64_t>(batch, n, stream);
    }));
    n = 0;
  }
  return cudaSuccess;
}

// --- gather --------------------------------------------------------------------------------------

template <typename U, typename Index, typename I>
__global__ void gather_kernel(const U* data, const I* indices, U* y, Index num_indices,
                              Index axis_len, Index inner_units, Index total, int* bad_index) {
  for (Index u = blockIdx.x * blockDim.x + threadIdx.x; u < total; u += gridDim.x * blockDim.x) {
    const Index row = u / inner_units, c = u - row * inner_units;
    const Index o = row / num_indices, j = row - o * num_indices;
    int64_t i = static_cast<int64_t>(indices[j]);
    if (i < 0) i += axis_len;
    if (i < 0 || i >= static_cast<int64_t>(axis_len)) {
      y[u] = U{};
      if (bad_index) *bad_index = 1;
      continue;
    }
    y[u] = data[(o * axis_len + static_cast<Index>(i)) * inner_units + c];
  }
}

}  // namespace

cudaError_t transpose(const void* x, void* y, DataType dt, const int64_t* dims, const int64_t* perm,
                      int rank, cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  TransposeShape s;
  if (es == 0 || !collapse_transpose(dims, perm, rank, &s)) return cudaErrorInvalidValue;
  int64_t numel = 1;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] < 0) return cudaErrorInvalidValue;
    numel *= dims[d];
  }
  if (numel == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  // Dims that stay in order merge, so an order-keeping permutation collapses to one dim.
  if (s.rank <= 1)
    return cudaMemcpyAsync(y, x, static_cast<size_t>(numel) * es, cudaMemcpyDeviceToDevice, stream);
  if (s.perm[s.rank - 1] == s.rank - 1) {
    // The innermost dim stays innermost: y reads x as a strided view with contiguous runs.
    int64_t x_strides[kMaxRank];
    int64_t stride = 1;
    for (int d = s.rank - 1; d >= 0; --d) {
      x_strides[d] = stride;
      stride *= s.dims[d];
    }
    StridedView v;
    v.rank = s.rank;
    for (int j = 0; j < s.rank; ++j) {
      v.dims[j] = s.dims[s.perm[j]];
      v.strides[j] = x_strides[s.perm[j]];
    }
    return strided_copy(x, collapse_view(v), es, y, stream);
  }
  // [n][b][a] -> [n][a][b] with a short b (NCHW -> NHWC of an image): the narrow kernel.
  const bool swap_last_two = (s.rank == 2 && s.perm[0] == 1) || (s.rank == 3 && s.perm[0] == 0 && s.perm[1] == 2 && s.perm[2] == 1);
  if (swap_last_two && s.dims[s.rank - 2] <= kNarrowMax) {
    const int64_t batches = s.rank == 3 ? s.dims[0] : 1, b_len = s.dims[s.rank - 2], a_len = s.dims[s.rank - 1];
    switch (es) {
      case 1:
        return launch_narrow<uint8_t>(x, y, batches, a_len, b_len, stream);
      case 2:
        return launch_narrow<uint16_t>(x, y, batches, a_len, b_len, stream);
      case 4:
        return launch_narrow<uint32_t>(x, y, batches, a_len, b_len, stream);
      default:
        return launch_narrow<unsigned long long>(x, y, batches, a_len, b_len, stream);
    }
  }
  switch (es) {
    case 1:
      return launch_tiled<uint8_t>(x, y, s, stream);
    case 2:
      return launch_tiled<uint16_t>(x, y, s, stream);
    case 4:
      return launch_tiled<uint32_t>(x, y, s, stream);
    default:
      return launch_tiled<unsigned long long>(x, y, s, stream);
  }
}

cudaError_t concat(const void* const* inputs, const int64_t* axis_lens, int count, void* y,
                   DataType dt, int64_t outer, int64_t inner, cudaStream_t stream) {
  const int64_t es = static_cast<int64_t>(element_bytes(dt));
  if (es == 0 || count < 0 || outer < 0 || inner < 0) return cudaErrorInvalidValue;
  int64_t total = 0;
  for (int k = 0; k < count; ++k) {
    if (axis_lens[k] < 0) return cudaErrorInvalidValue;
    total += axis_lens[k];
  }
  if (outer == 0 || inner == 0 || total == 0) return cudaSuccess;
  if (!y) return cudaErrorInvalidValue;
  Segment segs[kMaxCopySegments];
  int n = 0;
  int64_t offset = 0;
  for (int k = 0; k < count; ++k) {
    const int64_t row_bytes = axis_lens[k] * inner * es;
    if (row_bytes > 0 && !inputs[k]) return cudaErrorInvalidValue;
    segs[n++] = Segment{static_cast<const char*>(inputs[k]),
                        static_cast<char*>(y) + offset,
                        row_bytes,
                        total * inner * es,
                        row_bytes,
                        outer};
    offset += row_bytes;
    if (n == kMaxCopySegments || k == count - 1) {
      KILN_CUDA_RETURN_IF_ERROR(copy_segments(segs, n, static_cast<size_t>(es), stream));
      n = 0;
    }
  }
  return cudaSuccess;
}

cudaError_t split(const void* x, void* const* outputs, const int64_t* axis_lens, int count,
                  DataType dt, int64_t outer, int64_t inner, cudaStream_t stream) {
  const int64_t es = static_cast<int64_t>(element_bytes(dt));
  if (es == 0 || count < 0 || outer < 0 || inner < 0) return cudaErrorInvalidValue;
  int64_t total = 0;
  for (int k = 0; k < count; ++k) {
    if (axis_lens[k] < 0) return cudaErrorInvalidValue;
    total += axis_lens[k];
  }
  if (outer == 0 || inner == 0 || total == 0) return cudaSuccess;
  if (!x) return cudaErrorInvalidValue;
  Segment segs[kMaxCopySegments];
  int n = 0;
  int64_t offset = 0;
  for (int k = 0; k < count; ++k) {
    const int64_t row_bytes = axis_lens[k] * inner * es;
    if (row_bytes > 0 && !outputs[k]) return cudaErrorInvalidValue;
    segs[n++] = Segment{static_cast<const char*>(x) + offset,
                        static_cast<char*>(outputs[k]),
                        total * inner * es,
                        row_bytes,
                        row_bytes,
                        outer};
    offset += row_bytes;
    if (n == kMaxCopySegments || k == count - 1) {
      KILN_CUDA_RETURN_IF_ERROR(copy_segments(segs, n, static_cast<size_t>(es), stream));
      n = 0;
    }
  }
  return cudaSuccess;
}

cudaError_t slice(const void* x, const int64_t* x_dims, int rank, const int64_t* starts,
                  const int64_t* steps, void* y, const int64_t* y_dims, DataType dt,
                  cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  if (es == 0 || rank < 0 || rank > kMaxCopyRank) return cudaErrorInvalidValue;
  StridedView v;
  v.rank = rank;
  int64_t stride = 1, numel = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (x_dims[d] < 0 || y_dims[d] < 0) return cudaErrorInvalidValue;
    numel *= y_dims[d];
    if (y_dims[d] > 0) {
      // The first and the last index read along d must lie in x.
      const int64_t last = starts[d] + (y_dims[d] - 1) * steps[d];
      if (steps[d] == 0 || starts[d] < 0 || starts[d] >= x_dims[d] || last < 0 ||
          last >= x_dims[d]) {
        return cudaErrorInvalidValue;
      }
    }
    v.dims[d] = y_dims[d];
    v.strides[d] = stride * steps[d];
    v.offset += stride * starts[d];
    stride *= x_dims[d];
  }
  if (numel == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  return strided_copy(x, collapse_view(v), es, y, stream);
}

cudaError_t gather(const void* data, const void* indices, DataType index_dt, int64_t num_indices,
                   void* y, DataType dt, int64_t outer, int64_t axis_len, int64_t inner,
                   int* bad_index, cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  if (es == 0 || (index_dt != DataType::kInt32 && index_dt != DataType::kInt64))
    return cudaErrorInvalidValue;
  if (num_indices < 0 || outer < 0 || axis_len < 0 || inner < 0) return cudaErrorInvalidValue;
  const int64_t total = outer * num_indices * inner;
  if (total == 0) return cudaSuccess;
  if (!indices || !y || (axis_len > 0 && !data)) return cudaErrorInvalidValue;
  size_t unit = 16;
  while (unit > es && !(divides(unit, data) && divides(unit, y) &&
                        divides(unit, inner * static_cast<int64_t>(es)))) {
    unit /= 2;
  }
  const int64_t inner_units = inner * static_cast<int64_t>(es) / static_cast<int64_t>(unit);
  const int64_t units = outer * num_indices * inner_units;
  const int64_t data_units = outer * axis_len * inner_units;
  const bool narrow = std::max(units, data_units) <= kNarrowLimit;
  return dispatch_unit(unit, [&](auto tag) {
    using U = typename decltype(tag)::type;
    auto run = [&](auto index_tag, auto int_tag) {
      using Index = typename decltype(index_tag)::type;
      using I = typename decltype(int_tag)::type;
      gather_kernel<U, Index, I><<<grid_blocks(units, kThreads), kThreads, 0, stream>>>(
          static_cast<const U*>(data), static_cast<const I*>(indices), static_cast<U*>(y),
          static_cast<Index>(num_indices), static_cast<Index>(axis_len),
          static_cast<Index>(inner_units), static_cast<Index>(units), bad_index);
      return launch_error();
    };
    if (index_dt == DataType::kInt32) {
      return narrow ? run(TypeTag<int32_t>{}, TypeTag<int32_t>{})
                    : run(TypeTag<int64_t>{}, TypeTag<int32_t>{});
    }
    return narrow ? run(TypeTag<int32_t>{}, TypeTag<int64_t>{})
                  : run(TypeTag<int64_t>{}, TypeTag<int64_t>{});
  });
}

cudaError_t expand(const void* x, const int64_t* x_dims, int x_rank, void* y, const int64_t* y_dims,
                   int rank, DataType dt, cudaStream_t stream) {
  const size_t es = element_bytes(dt);
  if (es == 0 || rank < 0 || rank > kMaxCopyRank || x_rank < 0 || x_rank > rank)
    return cudaErrorInvalidValue;
  StridedView v;
  v.rank = rank;
  int64_t stride = 1, numel = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int xd = d - (rank - x_rank);
    const int64_t in = xd >= 0 ? x_dims[xd] : 1;
    if (y_dims[d] < 0 || (in != 1 && in != y_dims[d])) return cudaErrorInvalidValue;
    numel *= y_dims[d];
    v.dims[d] = y_dims[d];
    v.strides[d] = in == 1 ? 0 : stride;
    stride *= in;
  }
  if (numel == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  return strided_copy(x, collapse_view(v), es, y, stream);
}

}  // namespace kiln::cuda
