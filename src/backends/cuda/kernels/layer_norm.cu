#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/layer_norm.h"

namespace kiln::cuda {

namespace {

// Elements each thread keeps in registers on the cached path: fewer one at a time, whose
// addresses take registers of their own (16 would spill under the 1024-thread register cap).
template <bool kVec>
inline constexpr int kCacheElems = kVec ? 16 : 8;
constexpr int kWarpRowsPerBlock = 4;
constexpr int kMaxThreads = 1024;
constexpr int kLargeThreads = 1024;

// What the kernels read: the normalization kind and its operands.
template <typename T>
struct NormArgs {
  const T* x;
  const T* gamma;  // scale for RMS
  const T* beta;   // may be null
  T* y;
  float* mean;     // may be null
  float* inv_std;  // may be null
  int64_t rows;
  int64_t cols;
  float epsilon;
};

// One row per group of blockDim.x threads (a warp, blockDim.y rows per block; or the block),
// each thread holding kCache elements: the row's access k (kStep elements) belongs to thread
// k % blockDim.x. Needs cols <= blockDim.x * kCache, and with kVec cols a multiple of the pack.
// kThreads bounds the block (and so sets the registers a thread may keep).
template <typename T, bool kVec, bool kRms, int kCache, int kThreads>
__global__ void __launch_bounds__(kThreads) norm_cached_kernel(const NormArgs<T> a) {
  __shared__ float scratch[32];
  constexpr int kStep = kAccess<T, kVec>;
  constexpr int kAccesses = kCache / kStep;
  const int64_t stride = int64_t{blockDim.x} * kStep;
  const int64_t first = int64_t{threadIdx.x} * kStep;
  const float inv_cols = 1.f / static_cast<float>(a.cols);
  for (int64_t row = int64_t{blockIdx.x} * blockDim.y + threadIdx.y; row < a.rows;
       row += int64_t{gridDim.x} * blockDim.y) {
    const T* xr = a.x + row * a.cols;
    float v[kCache];
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < kAccesses; ++k) {
      const int64_t c = first + k * stride;
      if (c < a.cols) {
        load_access<T, kVec>(xr + c, v + k * kStep);
      } else {
#pragma unroll
        for (int i = 0; i < kStep; ++i) v[k * kStep + i] = 0.f;
      }
#pragma unroll
      for (int i = 0; i < kStep; ++i)
        sum += kRms ? v[k * kStep + i] * v[k * kStep + i] : v[k * kStep + i];
    }
    sum = group_sum(sum, scratch);
    float mean = 0.f, delta = 0.f, inv_std;
    if constexpr (kRms) {
      inv_std = 1.f / sqrtf(sum * inv_cols + a.epsilon);
    } else {
      mean = sum * inv_cols;
      // Centred second pass over the registers: no cancellation of E[x²] - E[x]². It also sums
      // the deviations, whose total is the rounding error of the first pass's mean (large when
      // the mean is large against the spread): the corrected two-pass algorithm. The correction
      // stays a separate term (delta), subtracted after the mean: folded into a mean of 1000 it
      // would round away again.
      float sq = 0.f, dev = 0.f;
#pragma unroll
      for (int k = 0; k < kAccesses; ++k) {
        if (first + k * stride < a.cols) {
#pragma unroll
          for (int i = 0; i < kStep; ++i) {
            const float d = v[k * kStep + i] - mean;
            dev += d;
            sq += d * d;
          }
        }
      }
      sq = group_sum(sq, scratch);
      dev = group_sum(dev, scratch);
      delta = dev * inv_cols;
      inv_std = 1.f / sqrtf(fmaxf(sq - dev * dev * inv_cols, 0.f) * inv_cols + a.epsilon);
      if (threadIdx.x == 0) {
        if (a.mean) a.mean[row] = mean + delta;
        if (a.inv_std) a.inv_std[row] = inv_std;
      }
    }
    T* yr = a.y + row * a.cols;
#pragma unroll
    for (int k = 0; k < kAccesses; ++k) {
      const int64_t c = first + k * stride;
      if (c >= a.cols) continue;
      float g[kStep], b[kStep], out[kStep];
      load_access<T, kVec>(a.gamma + c, g);
      if (a.beta) {
        load_access<T, kVec>(a.beta + c, b);
      } else {
#pragma unroll
        for (int i = 0; i < kStep; ++i) b[i] = 0.f;
      }
#pragma unroll
      for (int i = 0; i < kStep; ++i) out[i] = ((v[k * kStep + i] - mean) - delta) * inv_std * g[i] + b[i];
      store_access<T, kVec>(yr + c, out);
    }
  }
}

// One row per block, read from memory in each pass: for rows too long to keep in registers.
template <typename T, bool kVec, bool kRms>
__global__ void __launch_bounds__(kLargeThreads) norm_large_kernel(const NormArgs<T> a) {
  __shared__ float scratch[32];
  constexpr int kStep = kAccess<T, kVec>;
  const int64_t stride = int64_t{blockDim.x} * kStep;
  const int64_t first = int64_t{threadIdx.x} * kStep;
  const float inv_cols = 1.f / static_cast<float>(a.cols);
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* xr = a.x + row * a.cols;
    float sum = 0.f;
    for (int64_t c = first; c < a.cols; c += stride) {
      float v[kStep];
      load_access<T, kVec>(xr + c, v);
#pragma unroll
      for (int i = 0; i < kStep; ++i) sum += kRms ? v[i] * v[i] : v[i];
    }
    sum = group_sum(sum, scratch);
    float mean = 0.f, delta = 0.f, inv_std;
    if constexpr (kRms) {
      inv_std = 1.f / sqrtf(sum * inv_cols + a.epsilon);
    } else {
      mean = sum * inv_cols;
      float sq = 0.f, dev = 0.f;  // corrected two-pass, as above
      for (int64_t c = first; c < a.cols; c += stride) {
        float v[kStep];
        load_access<T, kVec>(xr + c, v);
#pragma unroll
        for (int i = 0; i < kStep; ++i) {
          const float d = v[i] - mean;
          dev += d;
          sq += d * d;
        }
      }
      sq = group_sum(sq, scratch);
      dev = group_sum(dev, scratch);
      delta = dev * inv_cols;
      inv_std = 1.f / sqrtf(fmaxf(sq - dev * dev * inv_cols, 0.f) * inv_cols + a.epsilon);
      if (threadIdx.x == 0) {
        if (a.mean) a.mean[row] = mean + delta;
        if (a.inv_std) a.inv_std[row] = inv_std;
      }
    }
    T* yr = a.y + row * a.cols;
    for (int64_t c = first; c < a.cols; c += stride) {
      float v[kStep], g[kStep], b[kStep], out[kStep];
      load_access<T, kVec>(xr + c, v);
      load_access<T, kVec>(a.gamma + c, g);
      if (a.beta) {
        load_access<T, kVec>(a.beta + c, b);
      } else {
#pragma unroll
        for (int i = 0; i < kStep; ++i) b[i] = 0.f;
      }
#pragma unroll
      for (int i = 0; i < kStep; ++i) out[i] = ((v[i] - mean) - delta) * inv_std * g[i] + b[i];
      store_access<T, kVec>(yr + c, out);
    }
  }
}

// One warp per row, kCache elements a lane.
template <typename T, bool kVec, bool kRms, int kCache>
void launch_warp_rows(const NormArgs<T>& a, cudaStream_t stream) {
  constexpr int kThreads = 32 * kWarpRowsPerBlock;
  const dim3 block(32, kWarpRowsPerBlock);
  const int64_t groups = (a.rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock;
  const int blocks = grid_blocks(groups * kThreads, kThreads);
  norm_cached_kernel<T, kVec, kRms, kCache, kThreads><<<blocks, block, 0, stream>>>(a);
}

// Rows of up to kMaxWarpPacks 16-byte packs a lane go one warp to a row: the reductions are warp
// shuffles only. A block per row (kMaxWarpPacks = 4: 1024 fp16 or 512 fp32 columns, BERT's 768
// among them) synchronizes its warps three times a row, which left the norms at ~40% of memory
// bandwidth on an H200.
constexpr int kMaxWarpPacks = 4;

template <typename T, bool kVec, bool kRms>
cudaError_t launch_norm(const NormArgs<T>& a, cudaStream_t stream) {
  constexpr int kCache = kCacheElems<kVec>;
  constexpr int kStep = kAccess<T, kVec>;
  if constexpr (kVec) {
    if (a.cols <= int64_t{32} * kStep * kMaxWarpPacks) {
      switch ((a.cols + 32 * kStep - 1) / (32 * kStep)) {
        case 1: launch_warp_rows<T, kVec, kRms, kStep>(a, stream); break;
        case 2: launch_warp_rows<T, kVec, kRms, 2 * kStep>(a, stream); break;
        case 3: launch_warp_rows<T, kVec, kRms, 3 * kStep>(a, stream); break;
        default: launch_warp_rows<T, kVec, kRms, 4 * kStep>(a, stream); break;
      }
      return launch_error();
    }
  }
  if (a.cols <= 32 * kCache) {
    launch_warp_rows<T, kVec, kRms, kCache>(a, stream);
  } else if (a.cols <= int64_t{kMaxThreads} * kCache) {
    const int64_t per_thread = (a.cols + kCache - 1) / kCache;
    const int threads = static_cast<int>((per_thread + 31) / 32 * 32);
    const int blocks = grid_blocks(a.rows * threads, threads);
    norm_cached_kernel<T, kVec, kRms, kCache, kMaxThreads><<<blocks, threads, 0, stream>>>(a);
  } else {
    const int blocks = grid_blocks(a.rows * kLargeThreads, kLargeThreads);
    norm_large_kernel<T, kVec, kRms><<<blocks, kLargeThreads, 0, stream>>>(a);
  }
  return launch_error();
}

template <bool kRms>
cudaError_t norm(const void* x, const void* gamma, const void* beta, void* y, float* mean,
                 float* inv_std, DataType dt, int64_t rows, int64_t cols, float epsilon,
                 cudaStream_t stream) {
  if (rows < 0 || cols < 0 || !(epsilon >= 0.f)) return cudaErrorInvalidValue;
  if (rows == 0 || cols == 0) return cudaSuccess;
  if (!x || !gamma || !y) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    NormArgs<T> a{static_cast<const T*>(x),
                  static_cast<const T*>(gamma),
                  static_cast<const T*>(beta),
                  static_cast<T*>(y),
                  mean,
                  inv_std,
                  rows,
                  cols,
                  epsilon};
    // Each row must start on a pack boundary too, so cols is a whole number of packs.
    const bool vec = cols % kPack<T> == 0 && is_aligned16(x) && is_aligned16(gamma) &&
                     is_aligned16(y) && (!beta || is_aligned16(beta));
    return vec ? launch_norm<T, true, kRms>(a, stream) : launch_norm<T, false, kRms>(a, stream);
  });
}

}  // namespace

cudaError_t layer_norm(const void* x, const void* gamma, const void* beta, void* y, float* mean,
                       float* inv_std, DataType dt, int64_t rows, int64_t cols, float epsilon,
                       cudaStream_t stream) {
  return norm<false>(x, gamma, beta, y, mean, inv_std, dt, rows, cols, epsilon, stream);
}

cudaError_t rms_norm(const void* x, const void* scale, void* y, DataType dt, int64_t rows,
                     int64_t cols, float epsilon, cudaStream_t stream) {
  return norm<true>(x, scale, nullptr, y, nullptr, nullptr, dt, rows, cols, epsilon, stream);
}

}  // namespace kiln::cuda
