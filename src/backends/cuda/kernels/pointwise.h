// Elementwise kernels for float32, float16 and bfloat16: the unary activations and math ops,
// binary arithmetic with numpy broadcasting, and Cast between the three types. kiln.FusedPointwise
// (fused_pointwise.h) shares the per-element functions and the broadcast plan below.
//
// Each element is computed in fp32 and rounded once to the element type, as the reference
// kernels compute (float is their compute type for the 16-bit floats). The ops the reference
// computes exactly (arithmetic, Max/Min, Relu, LeakyRelu, Clip, HardSigmoid, HardSwish, Neg, Abs,
// Sqrt, Reciprocal, Floor, Ceil) give its bits: they use the rounded fp32 intrinsics, which the
// compiler never contracts into fused multiply-adds. Pow computes in double and rounds once, as
// the reference does. exp, log, tanh, erf and what is built on them are CUDA's (within 2 ulp).
//
// Memory: 16-byte accesses when the pointers are 16-byte aligned (and, under broadcasting, the
// innermost dim is a whole number of packs), grid-stride loops over as many blocks as the device
// keeps resident.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/common.h"
#include "kiln/dtype.h"

namespace kiln::cuda {

// The unary ops (the cpu backend's list, src/backends/cpu/kernels/pointwise.h): the activations
// of core/activation.h and the unary math ops FusedPointwise can fuse, plus Softplus.
enum class UnaryKind : uint8_t {
  kIdentity,
  kRelu,
  kLeakyRelu,  // alpha
  kClip,       // alpha = min, beta = max
  kSigmoid,
  kTanh,
  kHardSigmoid,  // alpha, beta
  kHardSwish,
  kSilu,  // x * sigmoid(x), the sigmoid rounded to the element type first (docs/fused_ops.md)
  kGelu,
  kGeluTanh,
  kExp,
  kLog,
  kSqrt,
  kNeg,
  kAbs,
  kErf,
  kReciprocal,
  kFloor,
  kCeil,
  kSoftplus,
};

struct UnaryOp {
  UnaryKind kind = UnaryKind::kIdentity;
  float alpha = 0;
  float beta = 0;
};

// Max and Min: NaN wins (numpy's maximum/minimum), ties keep the left operand.
enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow };

// Operands a broadcast plan holds: the two of a binary op, FusedPointwise's E1..E8.
inline constexpr int kMaxBroadcastOperands = 8;

// y = op(x) over n elements of dtype dt. y may be x.
cudaError_t unary(const UnaryOp& op, const void* x, void* y, DataType dt, int64_t n,
                  cudaStream_t stream);

// y = a op b with numpy broadcasting: y has the broadcast shape of a's and b's dims
// (broadcast_shape), rank at most kMaxRank. y may be a or b when that operand has y's shape.
cudaError_t binary(BinaryOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                   const int64_t* b_dims, int b_rank, void* y, DataType dt, cudaStream_t stream);

// Cast of n elements between float32, float16 and bfloat16: through fp32 (exact from the 16-bit
// types), rounded to nearest-even once.
cudaError_t cast(const void* x, DataType from, void* y, DataType to, int64_t n,
                 cudaStream_t stream);

// The numpy broadcast of dims a and b into out (room for kMaxRank), its rank in *out_rank; false
// when they do not broadcast or the rank exceeds kMaxRank.
bool broadcast_shape(const int64_t* a, int a_rank, const int64_t* b, int b_rank, int64_t* out,
                     int* out_rank);

// Operands read against an output of row-major dims, with the output's dims collapsed: dims of 1
// are dropped and adjacent dims merge where every operand reads them as one (contiguously, or
// not at all). strides[k][d] is operand k's element stride along collapsed dim d, 0 where it is
// broadcast. An output of one element has rank 0; an empty output numel 0.
struct BroadcastPlan {
  int rank = 0;
  int operands = 0;
  int64_t numel = 1;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxBroadcastOperands][kMaxRank] = {};
};

// The plan of `count` operands (operand k has operand_ranks[k] dims at operand_dims[k]) against
// out_dims. False when an operand does not broadcast to the output without enlarging it, or a rank
// or count exceeds the limits.
bool plan_broadcast(const int64_t* out_dims, int out_rank, const int64_t* const* operand_dims,
                    const int* operand_ranks, int count, BroadcastPlan* plan);

}  // namespace kiln::cuda

#if defined(__CUDACC__)

namespace kiln::cuda {

// --- per-element functions (shared with fused_pointwise.cu) ----------------------------------

__device__ __forceinline__ bool is_nan(float v) { return v != v; }

// core/activation.h's clamp_keep_nan: `if (v < lo) v = lo; if (v > hi) v = hi;`.
__device__ __forceinline__ float clamp_keep_nan(float v, float lo, float hi) {
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

// The reference Sigmoid: both branches keep exp's argument <= 0.
__device__ __forceinline__ float sigmoid_f32(float v) {
  if (v >= 0.f) return __fdiv_rn(1.f, __fadd_rn(1.f, expf(-v)));
  const float e = expf(v);
  return __fdiv_rn(e, __fadd_rn(1.f, e));
}

// op(v) in fp32 for elements of type T (T matters only to Silu, which rounds its sigmoid to T).
// The formulas are the reference's (core/activation.h, the elementwise reference kernels),
// operation for operation.
template <typename T>
__device__ __forceinline__ float unary_op(const UnaryOp& op, float v) {
  switch (op.kind) {
    case UnaryKind::kIdentity:
      return v;
    case UnaryKind::kRelu:
      return v < 0.f ? 0.f : v;  // keeps NaN and -0
    case UnaryKind::kLeakyRelu:
      return v < 0.f ? __fmul_rn(op.alpha, v) : v;
    case UnaryKind::kClip:
      return clamp_keep_nan(v, op.alpha, op.beta);
    case UnaryKind::kSigmoid:
      return sigmoid_f32(v);
    case UnaryKind::kTanh:
      return tanhf(v);
    case UnaryKind::kHardSigmoid:
      return clamp_keep_nan(__fadd_rn(__fmul_rn(op.alpha, v), op.beta), 0.f, 1.f);
    case UnaryKind::kHardSwish:
      return __fmul_rn(v, clamp_keep_nan(__fadd_rn(__fdiv_rn(v, 6.f), 0.5f), 0.f, 1.f));
    case UnaryKind::kSilu:
      return __fmul_rn(v, round_to<T>(sigmoid_f32(v)));
    case UnaryKind::kGelu:
      // sqrt(2) rounded to float, as the reference's std::sqrt(C(2)).
      return 0.5f * v * (1.f + erff(v / 0x1.6a09e6p+0f));
    case UnaryKind::kGeluTanh: {
      const float k = 0x1.988452p-1f;  // sqrt(2 / pi) computed in float, as the reference does
      return 0.5f * v * (1.f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
    case UnaryKind::kExp:
      return expf(v);
    case UnaryKind::kLog:
      return logf(v);
    case UnaryKind::kSqrt:
      return __fsqrt_rn(v);
    case UnaryKind::kNeg:
      return -v;
    case UnaryKind::kAbs:
      return fabsf(v);
    case UnaryKind::kErf:
      return erff(v);
    case UnaryKind::kReciprocal:
      return __fdiv_rn(1.f, v);
    case UnaryKind::kFloor:
      return floorf(v);
    case UnaryKind::kCeil:
      return ceilf(v);
    case UnaryKind::kSoftplus:
      return v > 0.f ? v + log1pf(expf(-v)) : log1pf(expf(v));
  }
  return v;
}

// a op b in fp32 (Pow in double, rounded once), as the reference computes it.
__device__ __forceinline__ float binary_op(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd:
      return __fadd_rn(a, b);
    case BinaryOp::kSub:
      return __fsub_rn(a, b);
    case BinaryOp::kMul:
      return __fmul_rn(a, b);
    case BinaryOp::kDiv:
      return __fdiv_rn(a, b);
    case BinaryOp::kMax:
      return (b > a || is_nan(b)) ? b : a;
    case BinaryOp::kMin:
      return (b < a || is_nan(b)) ? b : a;
    case BinaryOp::kPow:
      return static_cast<float>(pow(static_cast<double>(a), static_cast<double>(b)));
  }
  return a;
}

// Operand values for kAccess<T, kVec> output elements along the innermost dim: kStep of its own
// when it runs along that dim, else one value repeated.
template <typename T, bool kVec>
__device__ __forceinline__ void load_operand(const T* p, bool runs, float* out) {
  constexpr int kStep = kAccess<T, kVec>;
  if (runs) {
    load_access<T, kVec>(p, out);
  } else {
    const float v = load_f32(p);
#pragma unroll
    for (int i = 0; i < kStep; ++i) out[i] = v;
  }
}

// Elements packs*kStep .. n - 1 (fewer than kStep) go to the grid's first threads, one each.
__device__ __forceinline__ int64_t tail_index(int64_t packs, int step) {
  return packs * step + int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
}

// --- broadcast indexing ------------------------------------------------------------------------

// A broadcast plan in the kernels' index type (uint32_t when every offset fits, else int64_t),
// for `Operands` operands.
template <typename Index, int Operands>
struct StridedLayout {
  int rank;
  Index dims[kMaxRank];
  Index strides[Operands][kMaxRank];
};

// The layout of a plan's first `Operands` operands; an output of one element (rank 0) becomes a
// rank-1 layout of one dim of 1 that no operand steps along.
template <typename Index, int Operands>
StridedLayout<Index, Operands> strided_layout(const BroadcastPlan& plan) {
  StridedLayout<Index, Operands> layout{};
  layout.rank = plan.rank > 0 ? plan.rank : 1;
  for (int d = 0; d < layout.rank; ++d) {
    layout.dims[d] = static_cast<Index>(plan.rank > 0 ? plan.dims[d] : 1);
    for (int k = 0; k < Operands; ++k) {
      layout.strides[k][d] =
          static_cast<Index>(plan.rank > 0 && k < plan.operands ? plan.strides[k][d] : 0);
    }
  }
  return layout;
}

// Element offsets of each operand at output element e (row-major over layout.dims).
template <typename Index, int Operands>
__device__ __forceinline__ void operand_offsets(const StridedLayout<Index, Operands>& layout,
                                                Index e, Index (&offsets)[Operands]) {
  Index idx[kMaxRank];
  unravel(layout.dims, layout.rank, e, idx);
#pragma unroll
  for (int k = 0; k < Operands; ++k) {
    offsets[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxRank; ++d) {
      if (d < layout.rank) offsets[k] += idx[d] * layout.strides[k][d];
    }
  }
}

}  // namespace kiln::cuda

#endif  // __CUDACC__
