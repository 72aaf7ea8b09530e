#include <limits>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/pool.h"

namespace kiln::cuda {

bool valid_pool_shape(const PoolShape& s) {
  if (s.spatial_rank < 1 || s.spatial_rank > kMaxPoolSpatialRank || s.outer < 0 || s.inner < 0)
    return false;
  for (int d = 0; d < s.spatial_rank; ++d) {
    if (s.in[d] < 0 || s.out[d] < 0 || s.kernel[d] < 1 || s.strides[d] < 1 || s.dilations[d] < 1 ||
        s.pad_begin[d] < 0) {
      return false;
    }
  }
  return true;
}

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = 8;  // global max: a warp per row

// The shape in the kernel's index type, spatial axes padded at the front to three (a padded axis
// has size 1, kernel 1, stride 1, no padding). in_strides are element strides within x.
template <typename Index>
struct PoolArgs {
  Index in[3], out[3], kernel[3], strides[3], dilations[3], pad_begin[3];
  Index in_strides[3];
  Index groups;     // work items per output position: inner / kStep
  Index out_total;  // output positions per outer index
  Index in_outer;   // x's stride between outer indices
  Index items;      // outer * out_total * groups
  float kernel_size;
};

// The in-bounds taps of the window at output position o along one axis: the first input
// position and how many (the reference's build_taps).
template <typename Index>
__device__ __forceinline__ void axis_taps(Index o, Index stride, Index pad, Index dilation,
                                          Index kernel, Index in, Index* first, Index* count) {
  const Index start = o * stride - pad;
  const Index j0 = start >= 0 ? Index{0} : (-start + dilation - 1) / dilation;
  const Index last = in - 1 - start;  // taps need j * dilation <= last
  Index j1 = last < 0 ? Index{-1} : last / dilation;
  if (j1 > kernel - 1) j1 = kernel - 1;
  *first = start + j0 * dilation;
  *count = j1 >= j0 ? j1 - j0 + 1 : Index{0};
}

template <typename T, typename Index, bool kVec, PoolOp kOp>
__global__ void pool_kernel(const T* x, T* y, const __grid_constant__ PoolArgs<Index> a) {
  constexpr int kStep = kAccess<T, kVec>;
  for (Index e = blockIdx.x * blockDim.x + threadIdx.x; e < a.items; e += gridDim.x * blockDim.x) {
    const Index g = e % a.groups, rest = e / a.groups;
    const Index o = rest % a.out_total, n = rest / a.out_total;
    const Index o2 = o % a.out[2], o01 = o / a.out[2];
    const Index o1 = o01 % a.out[1], o0 = o01 / a.out[1];
    Index first[3], count[3];
    axis_taps(o0, a.strides[0], a.pad_begin[0], a.dilations[0], a.kernel[0], a.in[0], &first[0],
              &count[0]);
    axis_taps(o1, a.strides[1], a.pad_begin[1], a.dilations[1], a.kernel[1], a.in[1], &first[1],
              &count[1]);
    axis_taps(o2, a.strides[2], a.pad_begin[2], a.dilations[2], a.kernel[2], a.in[2], &first[2],
              &count[2]);
    const T* base = x + n * a.in_outer + g * kStep;
    float acc[kStep];
#pragma unroll
    for (int i = 0; i < kStep; ++i) acc[i] = 0.f;
    bool seen = false;
    for (Index j0 = 0; j0 < count[0]; ++j0) {
      const T* p0 = base + (first[0] + j0 * a.dilations[0]) * a.in_strides[0];
      for (Index j1 = 0; j1 < count[1]; ++j1) {
        const T* p1 = p0 + (first[1] + j1 * a.dilations[1]) * a.in_strides[1];
        for (Index j2 = 0; j2 < count[2]; ++j2) {
          float v[kStep];
          load_access<T, kVec>(p1 + (first[2] + j2 * a.dilations[2]) * a.in_strides[2], v);
#pragma unroll
          for (int i = 0; i < kStep; ++i) {
            if constexpr (kOp == PoolOp::kMax) {
              acc[i] = (!seen || v[i] > acc[i]) ? v[i] : acc[i];
            } else {
              acc[i] = __fadd_rn(acc[i], v[i]);
            }
          }
          seen = true;
        }
      }
    }
    if constexpr (kOp != PoolOp::kMax) {
      const Index taps = count[0] * count[1] * count[2];
      const float divisor =
          kOp == PoolOp::kAverageIncludePad ? a.kernel_size : static_cast<float>(taps);
      // The reference divides only a non-empty count (an empty window gives 0).
#pragma unroll
      for (int i = 0; i < kStep; ++i) acc[i] = divisor > 0.f ? __fdiv_rn(acc[i], divisor) : 0.f;
    }
    store_access<T, kVec>(y + e * kStep, acc);
  }
}

template <typename T, typename Index, bool kVec>
cudaError_t launch_pool(PoolOp op, const PoolShape& s, const T* x, T* y, cudaStream_t stream) {
  constexpr int kStep = kAccess<T, kVec>;
  PoolArgs<Index> a{};
  const int pad = kMaxPoolSpatialRank - s.spatial_rank;
  for (int d = 0; d < kMaxPoolSpatialRank; ++d) {
    const bool real = d >= pad;
    const int sd = d - pad;
    a.in[d] = static_cast<Index>(real ? s.in[sd] : 1);
    a.out[d] = static_cast<Index>(real ? s.out[sd] : 1);
    a.kernel[d] = static_cast<Index>(real ? s.kernel[sd] : 1);
    a.strides[d] = static_cast<Index>(real ? s.strides[sd] : 1);
    a.dilations[d] = static_cast<Index>(real ? s.dilations[sd] : 1);
    a.pad_begin[d] = static_cast<Index>(real ? s.pad_begin[sd] : 0);
  }
  a.in_strides[2] = static_cast<Index>(s.inner);
  a.in_strides[1] = a.in_strides[2] * a.in[2];
  a.in_strides[0] = a.in_strides[1] * a.in[1];
  a.in_outer = a.in_strides[0] * a.in[0];
  a.groups = static_cast<Index>(s.inner / kStep);
  a.out_total = a.out[0] * a.out[1] * a.out[2];
  a.items = static_cast<Index>(s.outer) * a.out_total * a.groups;
  double kernel_size = 1;
  for (int d = 0; d < s.spatial_rank; ++d) kernel_size *= static_cast<double>(s.kernel[d]);
  a.kernel_size = static_cast<float>(kernel_size);
  const int blocks = grid_blocks(a.items, kThreads);
  switch (op) {
    case PoolOp::kMax:
      pool_kernel<T, Index, kVec, PoolOp::kMax><<<blocks, kThreads, 0, stream>>>(x, y, a);
      break;
    case PoolOp::kAverage:
      pool_kernel<T, Index, kVec, PoolOp::kAverage><<<blocks, kThreads, 0, stream>>>(x, y, a);
      break;
    case PoolOp::kAverageIncludePad:
      pool_kernel<T, Index, kVec, PoolOp::kAverageIncludePad>
          <<<blocks, kThreads, 0, stream>>>(x, y, a);
      break;
  }
  return launch_error();
}

// One row per warp. Each lane keeps the first largest non-NaN element of its share (the value and
// its index), the lanes meet by value and then by lower index, and x[r, 0] decides about NaN.
template <typename T>
__global__ void global_max_rows_kernel(const T* x, T* y, int64_t rows, int64_t reduced) {
  for (int64_t r = int64_t{blockIdx.x} * blockDim.y + threadIdx.y; r < rows;
       r += int64_t{gridDim.x} * blockDim.y) {
    const T* row = x + r * reduced;
    float best = 0.f;
    int64_t at = -1;  // none yet
    for (int64_t i = threadIdx.x; i < reduced; i += 32) {
      const float v = load_f32(row + i);
      if (v == v && (at < 0 || v > best)) {
        best = v;
        at = i;
      }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, best, offset);
      const int64_t other_at = __shfl_xor_sync(0xffffffffu, at, offset);
      const bool take =
          other_at >= 0 && (at < 0 || other > best || (other == best && other_at < at));
      if (take) {
        best = other;
        at = other_at;
      }
    }
    if (threadIdx.x == 0) {
      float result = 0.f;  // an empty row
      if (reduced > 0) {
        const float head = load_f32(row);
        // A NaN first element stays; otherwise at >= 0 (the head itself is a candidate).
        result = head != head ? head : best;
      }
      store_f32(y + r, result);
    }
  }
}

}  // namespace

cudaError_t pool(PoolOp op, const PoolShape& s, const void* x, void* y, DataType dt,
                 cudaStream_t stream) {
  if (!valid_pool_shape(s)) return cudaErrorInvalidValue;
  if (op != PoolOp::kMax && op != PoolOp::kAverage && op != PoolOp::kAverageIncludePad)
    return cudaErrorInvalidValue;
  int64_t out_numel = s.outer * s.inner, in_numel = s.outer * s.inner;
  for (int d = 0; d < s.spatial_rank; ++d) {
    out_numel *= s.out[d];
    in_numel *= s.in[d];
  }
  if (out_numel == 0) return cudaSuccess;
  if (!y || (in_numel > 0 && !x)) return cudaErrorInvalidValue;
  // Offsets computed in int32 below half its range; the windows' reach past the input (pads,
  // strides) is bounded by the output size times the strides, so both extents count.
  int64_t reach = in_numel;
  for (int d = 0; d < s.spatial_rank; ++d) {
    const int64_t span = s.out[d] * s.strides[d] + s.kernel[d] * s.dilations[d] + s.pad_begin[d];
    if (span > reach) reach = span;
  }
  const bool narrow = out_numel <= std::numeric_limits<int32_t>::max() / 4 &&
                      reach <= std::numeric_limits<int32_t>::max() / 4;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
    T* out = static_cast<T*>(y);
    const bool vec = s.inner % kPack<T> == 0 && is_aligned16(x) && is_aligned16(y);
    if (narrow) {
      return vec ? launch_pool<T, int32_t, true>(op, s, in, out, stream)
                 : launch_pool<T, int32_t, false>(op, s, in, out, stream);
    }
    return vec ? launch_pool<T, int64_t, true>(op, s, in, out, stream)
               : launch_pool<T, int64_t, false>(op, s, in, out, stream);
  });
}

cudaError_t global_max_rows(const void* x, void* y, DataType dt, int64_t rows, int64_t reduced,
                            cudaStream_t stream) {
  if (rows < 0 || reduced < 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  if (!y || (reduced > 0 && !x)) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const dim3 block(32, kRowsPerBlock);
    const int blocks = grid_blocks(rows * 32, 32 * kRowsPerBlock);
    global_max_rows_kernel<T>
        <<<blocks, block, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), rows, reduced);
    return launch_error();
  });
}

}  // namespace kiln::cuda
