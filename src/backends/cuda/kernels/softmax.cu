#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/softmax.h"

namespace kiln::cuda {

namespace {

// Elements each thread keeps in registers on the cached path: fewer one at a time, whose
// addresses take registers of their own (16 would spill under the 1024-thread register cap).
template <bool kVec>
inline constexpr int kCacheElems = kVec ? 16 : 8;
constexpr int kWarpRowsPerBlock = 4;
constexpr int kMaxThreads = 1024;
constexpr int kLargeThreads = 1024;

template <typename T>
struct SoftmaxArgs {
  const T* x;
  T* y;
  int64_t rows;
  int64_t cols;
};

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// Finishes one element from x - max: softmax scales exp(d) by 1 / sum, log_softmax subtracts
// log(sum).
template <bool kLog>
__device__ __forceinline__ float finish(float d, float exp_d, float inv_sum, float log_sum) {
  return kLog ? d - log_sum : exp_d * inv_sum;
}

// One row per group of blockDim.x threads (see layer_norm.cu's norm_cached_kernel for the
// layout): max, then the sum of exp(x - max) with the exponentials kept, then the outputs.
template <typename T, bool kVec, bool kLog>
__global__ void __launch_bounds__(kMaxThreads) softmax_cached_kernel(const SoftmaxArgs<T> a) {
  __shared__ float scratch[32];
  constexpr int kStep = kAccess<T, kVec>;
  constexpr int kCache = kCacheElems<kVec>;
  constexpr int kAccesses = kCache / kStep;
  const int64_t stride = int64_t{blockDim.x} * kStep;
  const int64_t first = int64_t{threadIdx.x} * kStep;
  for (int64_t row = int64_t{blockIdx.x} * blockDim.y + threadIdx.y; row < a.rows;
       row += int64_t{gridDim.x} * blockDim.y) {
    const T* xr = a.x + row * a.cols;
    float v[kCache];
    float mx = neg_inf();
#pragma unroll
    for (int k = 0; k < kAccesses; ++k) {
      if (first + k * stride < a.cols) {
        load_access<T, kVec>(xr + first + k * stride, v + k * kStep);
#pragma unroll
        for (int i = 0; i < kStep; ++i) mx = nan_max(mx, v[k * kStep + i]);
      }
    }
    mx = group_max(mx, scratch);
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < kAccesses; ++k) {
      if (first + k * stride < a.cols) {
#pragma unroll
        for (int i = 0; i < kStep; ++i) {
          v[k * kStep + i] -= mx;
          const float e = expf(v[k * kStep + i]);
          sum += e;
          // Softmax keeps exp(x - max); log_softmax keeps x - max.
          if constexpr (!kLog) v[k * kStep + i] = e;
        }
      }
    }
    sum = group_sum(sum, scratch);
    const float inv_sum = 1.f / sum, log_sum = logf(sum);
    T* yr = a.y + row * a.cols;
#pragma unroll
    for (int k = 0; k < kAccesses; ++k) {
      if (first + k * stride >= a.cols) continue;
      float out[kStep];
#pragma unroll
      for (int i = 0; i < kStep; ++i)
        out[i] = finish<kLog>(v[k * kStep + i], v[k * kStep + i], inv_sum, log_sum);
      store_access<T, kVec>(yr + first + k * stride, out);
    }
  }
}

// s (a sum of exp(x - m)) rescaled to the larger maximum mm. An empty sum stays 0 (m may be -inf).
__device__ __forceinline__ float rescale(float s, float m, float mm) {
  return s == 0.f ? 0.f : s * expf(m - mm);
}

// Adds v to the running maximum m and sum s of exp(x - m). -inf adds nothing (and would give
// -inf - -inf = NaN); NaN makes s NaN.
__device__ __forceinline__ void online_add(float& m, float& s, float v) {
  if (v > m) {
    s = rescale(s, m, v) + 1.f;
    m = v;
  } else if (v != neg_inf()) {
    s += expf(v - m);
  }
}

__device__ __forceinline__ void online_merge(float& m, float& s, float m2, float s2) {
  const float mm = m > m2 ? m : m2;
  s = rescale(s, m, mm) + rescale(s2, m2, mm);
  m = mm;
}

// One row per block, two passes over x: the running maximum and rescaled sum, then the outputs.
template <typename T, bool kVec, bool kLog>
__global__ void __launch_bounds__(kLargeThreads) softmax_large_kernel(const SoftmaxArgs<T> a) {
  __shared__ float scratch_m[32], scratch_s[32];
  constexpr int kStep = kAccess<T, kVec>;
  const int64_t stride = int64_t{blockDim.x} * kStep;
  const int64_t first = int64_t{threadIdx.x} * kStep;
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* xr = a.x + row * a.cols;
    float m = neg_inf(), s = 0.f;
    for (int64_t c = first; c < a.cols; c += stride) {
      float v[kStep];
      load_access<T, kVec>(xr + c, v);
#pragma unroll
      for (int i = 0; i < kStep; ++i) online_add(m, s, v[i]);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      online_merge(m, s, __shfl_xor_sync(0xffffffffu, m, offset),
                   __shfl_xor_sync(0xffffffffu, s, offset));
    }
    __syncthreads();  // the previous row's readers are done with the scratch
    if (lane == 0) {
      scratch_m[warp] = m;
      scratch_s[warp] = s;
    }
    __syncthreads();
    const bool has = lane < (blockDim.x >> 5);
    m = has ? scratch_m[lane] : neg_inf();
    s = has ? scratch_s[lane] : 0.f;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      online_merge(m, s, __shfl_xor_sync(0xffffffffu, m, offset),
                   __shfl_xor_sync(0xffffffffu, s, offset));
    }
    // A row holding NaN has s = NaN; its outputs come out NaN as in the reference.
    const float inv_sum = 1.f / s, log_sum = logf(s);
    T* yr = a.y + row * a.cols;
    for (int64_t c = first; c < a.cols; c += stride) {
      float v[kStep], out[kStep];
      load_access<T, kVec>(xr + c, v);
#pragma unroll
      for (int i = 0; i < kStep; ++i) {
        const float d = v[i] - m;
        out[i] = finish<kLog>(d, kLog ? 0.f : expf(d), inv_sum, log_sum);
      }
      store_access<T, kVec>(yr + c, out);
    }
  }
}

template <typename T, bool kVec, bool kLog>
cudaError_t launch_softmax(const SoftmaxArgs<T>& a, cudaStream_t stream) {
  constexpr int kCache = kCacheElems<kVec>;
  if (a.cols <= 32 * kCache) {
    const dim3 block(32, kWarpRowsPerBlock);
    const int64_t groups = (a.rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock;
    const int blocks = grid_blocks(groups * block.x * block.y, static_cast<int>(block.x * block.y));
    softmax_cached_kernel<T, kVec, kLog><<<blocks, block, 0, stream>>>(a);
  } else if (a.cols <= int64_t{kMaxThreads} * kCache) {
    const int64_t per_thread = (a.cols + kCache - 1) / kCache;
    const int threads = static_cast<int>((per_thread + 31) / 32 * 32);
    const int blocks = grid_blocks(a.rows * threads, threads);
    softmax_cached_kernel<T, kVec, kLog><<<blocks, threads, 0, stream>>>(a);
  } else {
    const int blocks = grid_blocks(a.rows * kLargeThreads, kLargeThreads);
    softmax_large_kernel<T, kVec, kLog><<<blocks, kLargeThreads, 0, stream>>>(a);
  }
  return launch_error();
}

template <bool kLog>
cudaError_t run_softmax(const void* x, void* y, DataType dt, int64_t rows, int64_t cols,
                        cudaStream_t stream) {
  if (rows < 0 || cols < 0) return cudaErrorInvalidValue;
  if (rows == 0 || cols == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const SoftmaxArgs<T> a{static_cast<const T*>(x), static_cast<T*>(y), rows, cols};
    const bool vec = cols % kPack<T> == 0 && is_aligned16(x) && is_aligned16(y);
    return vec ? launch_softmax<T, true, kLog>(a, stream)
               : launch_softmax<T, false, kLog>(a, stream);
  });
}

}  // namespace

cudaError_t softmax(const void* x, void* y, DataType dt, int64_t rows, int64_t cols,
                    cudaStream_t stream) {
  return run_softmax<false>(x, y, dt, rows, cols, stream);
}

cudaError_t log_softmax(const void* x, void* y, DataType dt, int64_t rows, int64_t cols,
                        cudaStream_t stream) {
  return run_softmax<true>(x, y, dt, rows, cols, stream);
}

}  // namespace kiln::cuda
