#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/reduce.h"

namespace kiln::cuda {

namespace {

constexpr int kWarpRowsPerBlock = 4;
constexpr int64_t kWarpMaxReduced = 1024;
constexpr int kRowThreads = 512;
constexpr int kMiddleThreads = 256;
constexpr int kMiddleWideThreads = 1024;  // when few (outer, column tile) pairs must fill the GPU

__device__ __forceinline__ float reduce_init(ReduceOp op) {
  return op == ReduceOp::kMax ? -__int_as_float(0x7f800000) : 0.f;
}

__device__ __forceinline__ float reduce_combine(ReduceOp op, float acc, float v) {
  return op == ReduceOp::kMax ? nan_max(acc, v) : acc + v;
}

__device__ __forceinline__ float reduce_finish(ReduceOp op, float acc, int64_t reduced) {
  // Mean of nothing is 0 / 0 = NaN, as the reference's.
  return op == ReduceOp::kMean ? acc / static_cast<float>(reduced) : acc;
}

// One row per group of blockDim.x threads (a warp, blockDim.y rows per block; or the block).
template <typename T, bool kVec>
__global__ void __launch_bounds__(kRowThreads)
    reduce_rows_kernel(const T* x, T* y, ReduceOp op, int64_t outer, int64_t reduced) {
  __shared__ float scratch[32];
  constexpr int kStep = kAccess<T, kVec>;
  const int64_t stride = int64_t{blockDim.x} * kStep;
  for (int64_t row = int64_t{blockIdx.x} * blockDim.y + threadIdx.y; row < outer;
       row += int64_t{gridDim.x} * blockDim.y) {
    const T* xr = x + row * reduced;
    float acc = reduce_init(op);
    for (int64_t c = int64_t{threadIdx.x} * kStep; c < reduced; c += stride) {
      float v[kStep];
      load_access<T, kVec>(xr + c, v);
#pragma unroll
      for (int i = 0; i < kStep; ++i) acc = reduce_combine(op, acc, v[i]);
    }
    acc = op == ReduceOp::kMax ? group_max(acc, scratch) : group_sum(acc, scratch);
    if (threadIdx.x == 0) store_f32(y + row, reduce_finish(op, acc, reduced));
  }
}

// Tiles of blockDim.x columns of one outer index; the blockDim.y thread rows take every
// blockDim.y-th slice of R and their partials meet in shared memory. blockDim.y is a power of two.
template <typename T>
__global__ void __launch_bounds__(kMiddleWideThreads)
    reduce_middle_kernel(const T* x, T* y, ReduceOp op, int64_t outer, int64_t reduced,
                         int64_t inner) {
  __shared__ float part[kMiddleWideThreads];
  const int width = static_cast<int>(blockDim.x), slices = static_cast<int>(blockDim.y);
  const int slot = static_cast<int>(threadIdx.y) * width + static_cast<int>(threadIdx.x);
  const int64_t tiles = (inner + width - 1) / width;
  for (int64_t t = blockIdx.x; t < outer * tiles; t += gridDim.x) {
    const int64_t o = t / tiles, i = (t % tiles) * width + threadIdx.x;
    float acc = reduce_init(op);
    if (i < inner) {
      const T* column = x + o * reduced * inner + i;
#pragma unroll 4
      for (int64_t r = threadIdx.y; r < reduced; r += slices)
        acc = reduce_combine(op, acc, load_f32(column + r * inner));
    }
    part[slot] = acc;
    __syncthreads();
    for (int half = slices / 2; half > 0; half /= 2) {
      if (static_cast<int>(threadIdx.y) < half)
        part[slot] = reduce_combine(op, part[slot], part[slot + half * width]);
      __syncthreads();
    }
    if (threadIdx.y == 0 && i < inner)
      store_f32(y + o * inner + i, reduce_finish(op, part[threadIdx.x], reduced));
    __syncthreads();  // part is rewritten for the next tile
  }
}

template <typename T, bool kVec>
cudaError_t launch_rows(const T* x, T* y, ReduceOp op, int64_t outer, int64_t reduced,
                        cudaStream_t stream) {
  if (reduced <= kWarpMaxReduced) {
    const dim3 block(32, kWarpRowsPerBlock);
    const int64_t groups = (outer + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock;
    const int blocks = grid_blocks(groups * block.x * block.y, static_cast<int>(block.x * block.y));
    reduce_rows_kernel<T, kVec><<<blocks, block, 0, stream>>>(x, y, op, outer, reduced);
  } else {
    reduce_rows_kernel<T, kVec>
        <<<grid_blocks(outer * kRowThreads, kRowThreads), kRowThreads, 0, stream>>>(x, y, op, outer,
                                                                                    reduced);
  }
  return launch_error();
}

bool valid_op(ReduceOp op) {
  return op == ReduceOp::kSum || op == ReduceOp::kMean || op == ReduceOp::kMax;
}

}  // namespace

cudaError_t reduce_rows(const void* x, void* y, DataType dt, ReduceOp op, int64_t outer,
                        int64_t reduced, cudaStream_t stream) {
  if (outer < 0 || reduced < 0 || !valid_op(op)) return cudaErrorInvalidValue;
  if (outer == 0) return cudaSuccess;
  if (!y || (reduced > 0 && !x)) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = static_cast<const T*>(x);
    T* out = static_cast<T*>(y);
    const bool vec = reduced % kPack<T> == 0 && is_aligned16(x);
    return vec ? launch_rows<T, true>(in, out, op, outer, reduced, stream)
               : launch_rows<T, false>(in, out, op, outer, reduced, stream);
  });
}

cudaError_t reduce_middle(const void* x, void* y, DataType dt, ReduceOp op, int64_t outer,
                          int64_t reduced, int64_t inner, cudaStream_t stream) {
  if (outer < 0 || reduced < 0 || inner < 0 || !valid_op(op)) return cudaErrorInvalidValue;
  if (inner == 1) return reduce_rows(x, y, dt, op, outer, reduced, stream);
  if (outer == 0 || inner == 0) return cudaSuccess;
  if (!y || (reduced > 0 && !x)) return cudaErrorInvalidValue;
  return dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    int width = 1;
    while (width < 32 && width < inner) width *= 2;
    const int64_t tiles = outer * ((inner + width - 1) / width);
    // Few tiles: more slices of R per tile, so that each tile's block has more loads in flight.
    DeviceShape shape;
    const int sms = current_device_shape(&shape) == cudaSuccess ? shape.multiprocessors : 132;
    const int threads = tiles < 2 * int64_t{sms} ? kMiddleWideThreads : kMiddleThreads;
    const dim3 block(width, threads / width);
    reduce_middle_kernel<T><<<grid_blocks(tiles * threads, threads), block, 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), op, outer, reduced, inner);
    return launch_error();
  });
}

}  // namespace kiln::cuda
