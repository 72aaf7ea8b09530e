// What kiln's CUDA kernel families share (src/backends/cuda/kernels/, one family per file).
//
// Host side (any C++ compiler): the error macro, element sizes, the device's shape (cached per
// device), grid sizing for grid-stride loops and 16-byte alignment tests.
// Device side (nvcc only, below `__CUDACC__`): loads and stores of float32 / float16 / bfloat16
// elements as fp32 values, one at a time or 16 bytes at a time, warp and block reductions, and
// the dtype dispatch of the launch functions.
//
// Every launch function takes device pointers, sizes, the kiln::DataType where it varies and a
// stream, and returns the cudaError_t of its launch (cudaErrorInvalidValue for arguments it does
// not take). Nothing allocates, so every launch can be captured in a CUDA graph.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kiln/dtype.h"

// Returns the error of a CUDA runtime call from the enclosing function (which returns
// cudaError_t) unless it is cudaSuccess.
#define KILN_CUDA_RETURN_IF_ERROR(expr)          \
  do {                                           \
    const cudaError_t kiln_cuda_error_ = (expr); \
    if (kiln_cuda_error_ != cudaSuccess) {       \
      return kiln_cuda_error_;                   \
    }                                            \
  } while (0)

namespace kiln::cuda {

// The most dims the broadcasting and copy kernels take.
inline constexpr int kMaxRank = 8;

// Bytes of one element for the kernels that move elements without reading them (copy.h): every
// fixed-size dtype kiln holds in a tensor; 0 for the others (string, complex).
inline size_t element_bytes(DataType t) {
  switch (t) {
    case DataType::kBool:
    case DataType::kUInt8:
    case DataType::kInt8:
    case DataType::kUInt4:  // held unpacked, one element per byte
    case DataType::kInt4:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:
      return 1;
    case DataType::kUInt16:
    case DataType::kInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
    case DataType::kUInt32:
    case DataType::kInt32:
    case DataType::kFloat32:
      return 4;
    case DataType::kUInt64:
    case DataType::kInt64:
    case DataType::kFloat64:
      return 8;
    default:
      return 0;
  }
}

// The element types the arithmetic kernels take: float32, float16, bfloat16.
inline bool is_kernel_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}

inline bool is_aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// The current device's shape, read once per device (cudaGetDeviceProperties takes milliseconds).
struct DeviceShape {
  int multiprocessors = 0;
  int max_threads_per_multiprocessor = 0;
  size_t shared_memory_per_block_optin = 0;
};
cudaError_t current_device_shape(DeviceShape* shape);

// Blocks for a grid-stride loop over `items` work items of `threads_per_block` threads each: one
// block per `threads_per_block` items, capped at what the device keeps resident at once (more
// blocks would only queue). At least 1; a device that cannot be queried caps at 1024 blocks
// (the launch then reports the device's error).
int grid_blocks(int64_t items, int threads_per_block);

}  // namespace kiln::cuda

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace kiln::cuda {

// --- element loads and stores ------------------------------------------------------------------

// One element as fp32, and fp32 rounded to nearest-even into the element type.
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// v rounded to T and read back: what storing v in a T tensor and reading it again gives.
template <typename T>
__device__ __forceinline__ float round_to(float v) {
  return to_f32(from_f32<T>(v));
}

template <typename T>
__device__ __forceinline__ float load_f32(const T* p) {
  return to_f32(*p);
}
template <typename T>
__device__ __forceinline__ void store_f32(T* p, float v) {
  *p = from_f32<T>(v);
}

// Elements per 16-byte access.
template <typename T>
inline constexpr int kPack = static_cast<int>(16 / sizeof(T));

// The bits of a 16-bit element (the low or high half of a 32-bit word) as fp32.
template <typename T>
__device__ __forceinline__ float bits16_to_f32(uint32_t bits);
template <>
__device__ __forceinline__ float bits16_to_f32<__half>(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
}
template <>
__device__ __forceinline__ float bits16_to_f32<__nv_bfloat16>(uint32_t bits) {
  return __uint_as_float(bits << 16);
}

template <typename T>
__device__ __forceinline__ uint32_t f32_to_bits16(float v);
template <>
__device__ __forceinline__ uint32_t f32_to_bits16<__half>(float v) {
  return __half_as_ushort(__float2half_rn(v));
}
template <>
__device__ __forceinline__ uint32_t f32_to_bits16<__nv_bfloat16>(float v) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

// kPack<T> elements from a 16-byte aligned p, as fp32 into out[0, kPack<T>), in one 16-byte load.
// (Callers index `out` with compile-time offsets only, so it stays in registers.)
template <typename T>
__device__ __forceinline__ void load_pack(const T* p, float* out) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
  if constexpr (sizeof(T) == 4) {
#pragma unroll
    for (int i = 0; i < 4; ++i) out[i] = __uint_as_float(words[i]);
  } else {
    // Little-endian: the element with the lower index is the low half of its word.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      out[2 * i] = bits16_to_f32<T>(words[i] & 0xffffu);
      out[2 * i + 1] = bits16_to_f32<T>(words[i] >> 16);
    }
  }
}

// in[0, kPack<T>) rounded to T, stored to a 16-byte aligned p in one 16-byte store.
template <typename T>
__device__ __forceinline__ void store_pack(T* p, const float* in) {
  uint32_t words[4];
  if constexpr (sizeof(T) == 4) {
#pragma unroll
    for (int i = 0; i < 4; ++i) words[i] = __float_as_uint(in[i]);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i)
      words[i] = f32_to_bits16<T>(in[2 * i]) | (f32_to_bits16<T>(in[2 * i + 1]) << 16);
  }
  *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
}

// Elements per access of a kernel body that reads 16-byte packs (kVec) or single elements, and
// that access: the vector form needs p 16-byte aligned.
template <typename T, bool kVec>
inline constexpr int kAccess = kVec ? kPack<T> : 1;

template <typename T, bool kVec>
__device__ __forceinline__ void load_access(const T* p, float* out) {
  if constexpr (kVec) {
    load_pack(p, out);
  } else {
    out[0] = load_f32(p);
  }
}

template <typename T, bool kVec>
__device__ __forceinline__ void store_access(T* p, const float* in) {
  if constexpr (kVec) {
    store_pack(p, in);
  } else {
    store_f32(p, in[0]);
  }
}

// --- reductions --------------------------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The larger of a and b; NaN wins (numpy's maximum, as the reference Reduce/Max ops).
__device__ __forceinline__ float nan_max(float a, float b) { return (a >= b || a != a) ? a : b; }

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1)
    v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The sum (max) over the threads of one row group: the warp when blockDim.x is 32, else the
// whole block (then blockDim.y must be 1 and blockDim.x a multiple of 32). Every thread of the
// group gets the result. `scratch` holds 32 floats of shared memory; the leading barrier lets a
// group call these back to back with the same scratch.
__device__ __forceinline__ float group_sum(float v, float* scratch) {
  v = warp_sum(v);
  if (blockDim.x == 32) return v;
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < (blockDim.x >> 5) ? scratch[lane] : 0.f);
}

__device__ __forceinline__ float group_max(float v, float* scratch) {
  v = warp_max(v);
  if (blockDim.x == 32) return v;
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_max(lane < (blockDim.x >> 5) ? scratch[lane] : -__int_as_float(0x7f800000));
}

// --- indexing ----------------------------------------------------------------------------------

// The index of element e along each dim (row-major over dims[0, rank), rank <= kMaxRank); entries
// from rank on are left alone. Unrolled, so idx stays in registers; the outermost dim needs no
// division, so a rank-1 layout costs none.
template <typename Index>
__device__ __forceinline__ void unravel(const Index* dims, int rank, Index e,
                                        Index (&idx)[kMaxRank]) {
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; --d) {
    if (d >= rank) continue;
    if (d > 0) {
      idx[d] = e % dims[d];
      e /= dims[d];
    } else {
      idx[d] = e;
    }
  }
}

// --- dispatch ----------------------------------------------------------------------------------

template <typename T>
struct TypeTag {
  using type = T;
};

// fn(TypeTag<T>{}) for the element type of `t` (float32, float16, bfloat16); invalid value for
// any other dtype.
template <typename Fn>
cudaError_t dispatch_float(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kFloat32:
      return fn(TypeTag<float>{});
    case DataType::kFloat16:
      return fn(TypeTag<__half>{});
    case DataType::kBFloat16:
      return fn(TypeTag<__nv_bfloat16>{});
    default:
      return cudaErrorInvalidValue;
  }
}

// The launch error of the kernel just launched on this thread (a configuration the device
// refuses, a missing device or driver).
inline cudaError_t launch_error() { return cudaGetLastError(); }

}  // namespace kiln::cuda

#endif  // __CUDACC__
