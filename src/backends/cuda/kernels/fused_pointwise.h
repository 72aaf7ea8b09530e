// kiln.FusedPointwise (docs/fused_ops.md) for float32, float16 and bfloat16: a chain of unary and
// binary steps applied in order to a running value that starts at X, one element per thread in
// registers, so X, the operands and Y each cross memory once however long the chain.
//
// The steps are decoded on the host once, when the kernel is made, into a FusedPointwiseProgram
// (a plain struct the kernel takes by value; fused_pointwise_decode.h builds it from the node's
// steps). Each step computes as pointwise.h's unary_op / binary_op, and the running value is
// rounded to X's dtype after every step, as the unfused chain stores every intermediate tensor;
// so for the exactly computed ops the result has the reference's bits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/pointwise.h"
#include "kiln/dtype.h"

namespace kiln::cuda {

inline constexpr int kMaxFusedSteps = 32;
// E1..En: FusedPointwise nodes with more operands run elsewhere.
inline constexpr int kMaxFusedOperands = kMaxBroadcastOperands;

struct FusedStep {
  UnaryOp unary;  // a unary step (operand 0)
  BinaryOp binary = BinaryOp::kAdd;
  uint8_t operand = 0;  // a binary step: the other operand, 1..n (E1..En); 0 for a unary step
  uint8_t swapped = 0;  // a binary step: 1 when the running value is the right-hand operand
};

struct FusedPointwiseProgram {
  int num_steps = 0;
  FusedStep steps[kMaxFusedSteps];
};

// y = program applied to x (dims[0..rank), rank <= kMaxRank, dtype dt). operands[k] (E{k+1}, of
// operand_ranks[k] dims at operand_dims[k]) broadcasts to x's shape without enlarging it; every
// binary step's operand index must be 1..num_operands. y has x's shape and may be x.
cudaError_t fused_pointwise(const FusedPointwiseProgram& program, const void* x,
                            const int64_t* dims, int rank, const void* const* operands,
                            const int64_t* const* operand_dims, const int* operand_ranks,
                            int num_operands, void* y, DataType dt, cudaStream_t stream);

}  // namespace kiln::cuda
