// Reference kernels of the linalg family, and the small helpers they share.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/kernel.h"
#include "core/dispatch.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

Status ref_matmul(KernelContext& ctx);
Status ref_gemm(KernelContext& ctx);
Status ref_einsum(KernelContext& ctx);
Status ref_matmul_integer(KernelContext& ctx);
Status ref_qlinear_matmul(KernelContext& ctx);
Status ref_conv(KernelContext& ctx);
Status ref_conv_transpose(KernelContext& ctx);
Status ref_conv_integer(KernelContext& ctx);
Status ref_qlinear_conv(KernelContext& ctx);
Status ref_deform_conv(KernelContext& ctx);
Status ref_quantize_linear(KernelContext& ctx);
Status ref_dequantize_linear(KernelContext& ctx);
Status ref_dynamic_quantize_linear(KernelContext& ctx);
Status ref_det(KernelContext& ctx);

// Accumulators: floats sum in double; integers in uint64 so overflow wraps (modulo 2^64, then
// truncated to T on store) instead of being undefined behaviour.
template <typename T>
using acc_t = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

template <typename T>
acc_t<T> to_acc(T v) {
  if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_signed_v<T>) {
      return static_cast<uint64_t>(static_cast<int64_t>(v));
    } else {
      return static_cast<uint64_t>(v);
    }
  } else {
    return static_cast<double>(static_cast<compute_t<T>>(v));
  }
}

template <typename T>
T from_acc(acc_t<T> v) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(v);  // modular (C++20)
  } else {
    return static_cast<T>(static_cast<compute_t<T>>(v));
  }
}

// Copies a tensor's elements into accumulator form.
template <typename T>
std::vector<acc_t<T>> to_acc_vector(const Tensor& t) {
  std::vector<acc_t<T>> v(static_cast<size_t>(t.numel()));
  const T* p = t.data_as<T>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = to_acc<T>(p[i]);
  return v;
}

// Rounds half to even and saturates to Q's range (NaN gives 0).
template <typename Q>
Q saturate_round(double v) {
  if (std::isnan(v)) return Q(0);
  const double r = std::nearbyint(v);
  constexpr double lo = static_cast<double>(std::numeric_limits<Q>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<Q>::max());
  if (r <= lo) return std::numeric_limits<Q>::min();
  if (r >= hi) return std::numeric_limits<Q>::max();
  return static_cast<Q>(r);
}

// Runs fn with the C++ type of a quantized integer dtype (uint8/int8/uint16/int16/int32).
template <typename Fn>
Status dispatch_quant(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kUInt8:
      return fn(TypeTag<uint8_t>{});
    case DataType::kInt8:
      return fn(TypeTag<int8_t>{});
    case DataType::kUInt16:
      return fn(TypeTag<uint16_t>{});
    case DataType::kInt16:
      return fn(TypeTag<int16_t>{});
    case DataType::kInt32:
      return fn(TypeTag<int32_t>{});
    default:
      return unsupported(std::string("dtype ") + dtype_name(t) +
                         " (expected an 8/16/32-bit integer type)");
  }
}

// Runs fn with the C++ type of a scale dtype (float32/float16/bfloat16).
template <typename Fn>
Status dispatch_scale(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kFloat32:
      return fn(TypeTag<float>{});
    case DataType::kFloat16:
      return fn(TypeTag<Float16>{});
    case DataType::kBFloat16:
      return fn(TypeTag<BFloat16>{});
    default:
      return unsupported(std::string("dtype ") + dtype_name(t) +
                         " (expected float32, float16 or bfloat16)");
  }
}

// A tensor's elements as doubles (any kiln dtype).
// Every element as a double; float8 and int4/uint4 included.
std::vector<double> tensor_as_doubles(const Tensor& t);
// A tensor's integer elements as int64 (integer dtypes; others give zeros).
std::vector<int64_t> tensor_as_int64s(const Tensor& t);

// The numpy matmul layout of A [.., M, K] and B [.., K, N]: broadcast batch, 1-D promotion.
struct MatMulShape {
  Dims out;                     // the output shape
  int64_t M = 1, K = 1, N = 1;  // matrix sizes
  int64_t batch = 1;            // output batch count
  std::vector<int64_t> a_off;   // per output batch: A's element offset
  std::vector<int64_t> b_off;   // per output batch: B's element offset
};
Result<MatMulShape> matmul_shape(const KernelContext& ctx, const Dims& a, const Dims& b);

// C[M,N] = A[M,K] * B[K,N] over all batches of `s`, in accumulator type acc_t<T>; elements are
// converted as they are read (no widened copies of large weights).
template <typename T>
void matmul_acc(const MatMulShape& s, const T* a, const T* b, acc_t<T>* c) {
  using A = acc_t<T>;
  std::vector<A> row(static_cast<size_t>(s.N));
  for (int64_t bi = 0; bi < s.batch; ++bi) {
    const T* ap = a + s.a_off[static_cast<size_t>(bi)];
    const T* bp = b + s.b_off[static_cast<size_t>(bi)];
    A* cp = c + bi * s.M * s.N;
    for (int64_t m = 0; m < s.M; ++m) {
      std::fill(row.begin(), row.end(), A(0));
      for (int64_t k = 0; k < s.K; ++k) {
        const A av = to_acc<T>(ap[m * s.K + k]);
        const T* brow = bp + k * s.N;
        for (int64_t n = 0; n < s.N; ++n) row[static_cast<size_t>(n)] += av * to_acc<T>(brow[n]);
      }
      std::copy(row.begin(), row.end(), cp + m * s.N);
    }
  }
}

}  // namespace kiln

namespace kiln {

// The value of a per-tensor / per-row (of A) / per-column (of B) quantization parameter `p` for
// every element of an operand of shape `x`: one element; a 1-D tensor of M (rows, for A) or N
// (columns, for B) values; or a tensor broadcast (unidirectionally) to x's shape.
Result<std::vector<double>> expand_matmul_param(const KernelContext& ctx, const Tensor& p,
                                                const Dims& x, bool rows, const char* name);

// The scale / zero-point layout of a QuantizeLinear or DequantizeLinear node for x (validated;
// blocked quantization from opset 21); zp may be null.
Result<QuantLayout> quant_layout_for(const KernelContext& ctx, const Tensor& x, const Tensor& scale,
                                     const Tensor* zp, const char* scale_name, const char* zp_name);

}  // namespace kiln
