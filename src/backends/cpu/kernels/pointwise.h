// What the cpu backend's elementwise and reduction kernels share (pointwise.cpp):
//
//  - VecKernels, the float32 loops over contiguous runs (unary functions, binary arithmetic
//    against a run or a scalar, sums and maxima), compiled for AVX-512, AVX2 and portable C++;
//    vec_kernels() picks the body for this CPU (capped by KILN_CPU_ISA).
//  - BroadcastLayout, numpy broadcasting of up to two operands against an output shape with the
//    dims collapsed to runs, and for_each_run, which walks a range of output elements as
//    contiguous runs, each with the operands' offsets and whether each is read along the run or
//    stays one value.
//  - parallel_blocks, a parallel_for over a flat range in fixed blocks.
//
// The transcendental functions (exp, log, tanh, erf and what uses them) are polynomial
// approximations within a few ulp of the C library's; the rest (arithmetic, sqrt, min/max,
// clamps, floor/ceil) give the reference kernels' bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cpu/cpu_isa.h"
#include "core/activation.h"
#include "core/parallel.h"
#include "kiln/tensor.h"

namespace kiln::cpu {

enum class UnaryKind : uint8_t {
  kIdentity,
  kRelu,
  kLeakyRelu,  // alpha
  kClip,       // alpha = min, beta = max
  kSigmoid,
  kTanh,
  kHardSigmoid,  // alpha, beta
  kHardSwish,
  kSilu,
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

// The activation `a` (core/activation.h) as a unary op, with its parameters as given.
UnaryOp unary_from_activation(Activation a, float alpha, float beta);

// Max and Min: NaN wins (numpy's maximum/minimum); ties keep the left operand, as the reference
// folds do. Pow computes in double and rounds once, as the reference does.
enum class BinaryKind : uint8_t { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow };

// The loops of one ISA. Every function takes n >= 0 elements; y may alias an input (exactly, not
// shifted).
struct VecKernels {
  const char* isa;
  void (*unary)(const UnaryOp& op, const float* x, float* y, int64_t n);
  // y = a op b
  void (*binary)(BinaryKind k, const float* a, const float* b, float* y, int64_t n);
  // y = a op s
  void (*binary_vs)(BinaryKind k, const float* a, float s, float* y, int64_t n);
  // y = s op b
  void (*binary_sv)(BinaryKind k, float s, const float* b, float* y, int64_t n);
  // The sum of x in double (float partial sums of a few dozen elements each).
  double (*sum)(const float* x, int64_t n);
  // The maximum of x, NaN if any element is NaN, -inf for n = 0.
  float (*max)(const float* x, int64_t n);
  // Column reductions over `rows` rows of `width` floats, row r at x + r * stride (width <= 64):
  // acc[j] += sum of column j (col_sum), acc[j] = max(acc[j], column j's maximum) with NaN winning
  // (col_max).
  void (*col_sum)(const float* x, int64_t rows, int64_t stride, int64_t width, double* acc);
  void (*col_max)(const float* x, int64_t rows, int64_t stride, int64_t width, float* acc);
};

// Widest column tile col_sum/col_max take.
inline constexpr int64_t kColTile = 64;

// The body for this CPU, capped by KILN_CPU_ISA.
const VecKernels& vec_kernels();
// The body for `isa` (tests run each one the CPU supports).
const VecKernels& vec_kernels_for(VectorIsa isa);

// --- broadcasting ---------------------------------------------------------------------------

inline constexpr int kMaxBroadcastRank = 8;

// Output dims collapsed so that adjacent dims merge when every operand reads both or neither;
// dims of 1 are dropped. strides[k][d] is operand k's element stride along collapsed dim d (0: it
// is broadcast there). An output with no dims left (one element) has rank 0.
struct BroadcastLayout {
  int rank = 0;
  int operands = 0;
  int64_t dims[kMaxBroadcastRank] = {};
  int64_t strides[2][kMaxBroadcastRank] = {};
  int64_t numel = 1;
};

// The numpy broadcast of a and b into `out` (resized; no allocation once it has the capacity).
// False when they do not broadcast or the rank exceeds kMaxBroadcastRank.
bool broadcast_dims(const Dims& a, const Dims& b, Dims& out);

// The layout of `count` (1 or 2) operands against out, which each must broadcast into. False
// when one does not or when the rank exceeds kMaxBroadcastRank.
bool make_broadcast_layout(const Dims* const* operands, int count, const Dims& out,
                           BroadcastLayout& layout);

// Calls fn(pos, len, off, step) for consecutive runs covering output elements [begin, end): a run
// stays within the innermost collapsed dim; off[k] is operand k's element offset at `pos` and
// step[k] is 1 when the operand is read along the run, 0 when it is one value for the run.
template <typename Fn>
void for_each_run(const BroadcastLayout& l, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const int r = l.rank;
  if (r == 0) {  // one element
    const int64_t off[2] = {0, 0}, step[2] = {0, 0};
    fn(begin, end - begin, off, step);
    return;
  }
  int64_t idx[kMaxBroadcastRank];
  int64_t off[2] = {0, 0};
  int64_t rem = begin;
  for (int d = r - 1; d >= 0; --d) {
    idx[d] = rem % l.dims[d];
    rem /= l.dims[d];
    for (int k = 0; k < l.operands; ++k) off[k] += idx[d] * l.strides[k][d];
  }
  const int64_t inner = l.dims[r - 1];
  const int64_t step[2] = {l.strides[0][r - 1] != 0 ? 1 : 0, l.strides[1][r - 1] != 0 ? 1 : 0};
  int64_t pos = begin;
  while (pos < end) {
    const int64_t len = inner - idx[r - 1] < end - pos ? inner - idx[r - 1] : end - pos;
    fn(pos, len, off, step);
    pos += len;
    if (pos >= end) break;
    // Next row: the innermost index wraps to 0, the outer ones carry.
    for (int k = 0; k < l.operands; ++k) off[k] -= idx[r - 1] * l.strides[k][r - 1];
    idx[r - 1] = 0;
    for (int d = r - 2; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < l.operands; ++k) off[k] += l.strides[k][d];
      if (idx[d] < l.dims[d]) break;
      for (int k = 0; k < l.operands; ++k) off[k] -= idx[d] * l.strides[k][d];
      idx[d] = 0;
    }
  }
}

// --- threading --------------------------------------------------------------------------------

// Elements a thread must have before another one is worth waking. Waking a pool thread and
// joining it costs several µs on an idle machine (and a scheduler time slice on a busy one), about
// what streaming 128K floats through a loop bound by memory takes; loops built on exp/log/tanh/erf
// spend about 1 ns per element, so far fewer elements pay for a thread.
inline constexpr int64_t kMinStreamElementsPerThread = 128 * 1024;
inline constexpr int64_t kMinHeavyElementsPerThread = 16 * 1024;

// Does this op spend its time computing (exp, log, tanh, erf and what is built on them) rather
// than streaming memory?
bool unary_is_heavy(UnaryKind k);

// Runs fn(begin, end) over [0, n) in blocks of `block` elements (the last one shorter), giving
// each thread at least `min_blocks` whole blocks. fn must not throw.
template <typename Fn>
void parallel_blocks(int64_t n, int64_t block, int64_t min_blocks, const Fn& fn) {
  if (n <= 0) return;
  const int64_t blocks = (n + block - 1) / block;
  struct Args {
    int64_t n, block;
    const Fn* fn;
  } args{n, block, &fn};
  // One pointer captured: std::function keeps it inline, so this allocates nothing.
  const Args* a = &args;
  parallel_for(blocks, min_blocks, [a](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t s = b * a->block;
      const int64_t e = s + a->block < a->n ? s + a->block : a->n;
      (*a->fn)(s, e);
    }
  });
}

}  // namespace kiln::cpu
