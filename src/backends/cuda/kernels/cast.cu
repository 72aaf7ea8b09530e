#include <type_traits>

#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/pointwise.h"

namespace kiln::cuda {

bool is_cast_type(DataType t) {
  switch (t) {
    case DataType::kFloat32:
    case DataType::kFloat16:
    case DataType::kBFloat16:
    case DataType::kInt64:
    case DataType::kInt32:
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kBool:
      return true;
    default:
      return false;
  }
}

namespace {

constexpr int kThreads = 256;

// A bool element: one byte, any non-zero value is true (read as the reference's bool reads it).
struct Bool {
  uint8_t v;
};

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
constexpr bool kIsFloat = std::is_same_v<T, float> || kIsHalf<T>;

// The limits an out-of-int64-range float saturates to.
template <typename I>
struct IntLimits;
template <>
struct IntLimits<int8_t> {
  static constexpr int8_t lo = -128, hi = 127;
};
template <>
struct IntLimits<uint8_t> {
  static constexpr uint8_t lo = 0, hi = 255;
};
template <>
struct IntLimits<int32_t> {
  static constexpr int32_t lo = -2147483647 - 1, hi = 2147483647;
};
template <>
struct IntLimits<int64_t> {
  static constexpr int64_t lo = -9223372036854775807LL - 1, hi = 9223372036854775807LL;
};

// The reference's float_to_int (elementwise_util.h): NaN -> 0, truncation, saturation beyond the
// int64 range, wrap-around to I's width inside it.
template <typename I>
__device__ __forceinline__ I float_to_int(double d) {
  if (d != d) return I(0);
  d = trunc(d);
  constexpr double kTwo63 = 9223372036854775808.0;
  if (d >= kTwo63) return IntLimits<I>::hi;
  if (d < -kTwo63) return IntLimits<I>::lo;
  return static_cast<I>(static_cast<int64_t>(d));
}

// d as fp32 rounded to odd (toward zero, the last bit set when inexact): rounding it to a 16-bit
// float then rounds d once (the reference's round_to_odd_float).
__device__ __forceinline__ float round_to_odd_float(double d) {
  const float f = __double2float_rz(d);
  if (static_cast<double>(f) == d) return f;
  return __uint_as_float(__float_as_uint(f) | 1u);
}

template <typename To, typename From>
__device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, Bool>) {
    if constexpr (std::is_same_v<From, Bool>) {
      return v;
    } else if constexpr (kIsFloat<From>) {
      return Bool{static_cast<uint8_t>(to_f32(v) != 0.f ? 1 : 0)};  // NaN is true
    } else {
      return Bool{static_cast<uint8_t>(v != 0 ? 1 : 0)};
    }
  } else if constexpr (std::is_same_v<From, Bool>) {
    if constexpr (kIsFloat<To>) {
      return from_f32<To>(v.v != 0 ? 1.f : 0.f);
    } else {
      return static_cast<To>(v.v != 0 ? 1 : 0);
    }
  } else if constexpr (kIsFloat<From>) {
    static_assert(!kIsFloat<To>, "float <-> float casts are pointwise.h's");
    return float_to_int<To>(static_cast<double>(to_f32(v)));
  } else if constexpr (std::is_same_v<To, float>) {
    return static_cast<float>(v);  // rounded to nearest-even
  } else if constexpr (kIsHalf<To>) {
    return from_f32<To>(round_to_odd_float(static_cast<double>(v)));
  } else {
    return static_cast<To>(v);  // wraps
  }
}

template <typename From, typename To>
__global__ void cast_kernel(const From* x, To* y, int64_t n) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = convert<To>(x[i]);
  }
}

// fn(TypeTag<T>{}) for the device element type of t (is_cast_type).
template <typename Fn>
cudaError_t dispatch_cast_type(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kInt64:
      return fn(TypeTag<int64_t>{});
    case DataType::kInt32:
      return fn(TypeTag<int32_t>{});
    case DataType::kInt8:
      return fn(TypeTag<int8_t>{});
    case DataType::kUInt8:
      return fn(TypeTag<uint8_t>{});
    case DataType::kBool:
      return fn(TypeTag<Bool>{});
    default:
      return dispatch_float(t, fn);  // the three float types; invalid value for the rest
  }
}

}  // namespace

cudaError_t cast_numeric(const void* x, DataType from, void* y, DataType to, int64_t n,
                         cudaStream_t stream) {
  if (n < 0 || !is_cast_type(from) || !is_cast_type(to)) return cudaErrorInvalidValue;
  if (is_kernel_float(from) && is_kernel_float(to)) return cast(x, from, y, to, n, stream);
  if (n == 0) return cudaSuccess;
  if (!x || !y) return cudaErrorInvalidValue;
  if (from == to) {
    if (x == y) return cudaSuccess;
    return cudaMemcpyAsync(y, x, static_cast<size_t>(n) * element_bytes(from),
                           cudaMemcpyDeviceToDevice, stream);
  }
  return dispatch_cast_type(from, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    return dispatch_cast_type(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      if constexpr (kIsFloat<From> && kIsFloat<To>) {
        return cudaErrorInvalidValue;  // handled above
      } else {
        cast_kernel<From, To><<<grid_blocks(n, kThreads), kThreads, 0, stream>>>(
            static_cast<const From*>(x), static_cast<To*>(y), n);
        return launch_error();
      }
    });
  });
}

}  // namespace kiln::cuda
