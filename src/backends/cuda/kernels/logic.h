// The elementwise ops whose elements are not (only) floats, with numpy broadcasting on
// pointwise.h's broadcast plan: comparisons (bool out), Not / And / Or / Xor on bools, Where, and
// integer Add / Sub / Mul (int32, int64). Bools are bytes, any non-zero byte true; bool results are
// 0 or 1. Each element is computed as the reference computes it: 16-bit floats compare as fp32
// (exact), integers compare as themselves (no trip through double), integer arithmetic wraps.
// One output element per thread of a grid-stride loop, indices in uint32 when the output fits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/pointwise.h"
#include "kiln/dtype.h"

namespace kiln::cuda {

enum class CompareOp : uint8_t { kEqual, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };
enum class LogicOp : uint8_t { kAnd, kOr, kXor };

// The operand types compare takes: float32, float16, bfloat16, int32, int64, and bool (kEqual
// only, as the reference).
bool is_compare_type(DataType t, CompareOp op);

// y (bool, the broadcast shape of a and b) = a op b, both of dtype dt.
cudaError_t compare(CompareOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                    const int64_t* b_dims, int b_rank, void* y, DataType dt, cudaStream_t stream);

// y (bool) = a op b on bools, broadcast.
cudaError_t logic(LogicOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                  const int64_t* b_dims, int b_rank, void* y, cudaStream_t stream);

// y = !x for n bools. y may be x.
cudaError_t logical_not(const void* x, void* y, int64_t n, cudaStream_t stream);

// y = a op b for int32 or int64 (dt) with two's complement wrap-around; op is BinaryOp::kAdd,
// kSub or kMul.
cudaError_t int_binary(BinaryOp op, const void* a, const int64_t* a_dims, int a_rank, const void* b,
                       const int64_t* b_dims, int b_rank, void* y, DataType dt,
                       cudaStream_t stream);

// out = cond ? x : y (cond bool; x, y and out of any fixed-size dtype dt, moved as bytes), the
// three broadcast together into out's dims (broadcast_shape of all three).
cudaError_t where(const void* cond, const int64_t* cond_dims, int cond_rank, const void* x,
                  const int64_t* x_dims, int x_rank, const void* y, const int64_t* y_dims,
                  int y_rank, void* out, DataType dt, cudaStream_t stream);

}  // namespace kiln::cuda
