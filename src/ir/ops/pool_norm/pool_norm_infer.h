// Inference helpers shared by the pooling and normalization schemas.
#pragma once

#include <cstddef>

#include "ir/op_schema.h"

namespace kiln {

// Input i must be a float tensor (f32, f64, f16, bf16), or int8/uint8 too when allow_int8.
// Unknown dtypes pass; dtypes kiln cannot hold (float8, strings) are unsupported.
Status check_float_input(const InferenceContext& ctx, size_t i, bool allow_int8 = false);

// Input i's rank must be at least min_rank when known.
Status check_min_rank(const InferenceContext& ctx, size_t i, size_t min_rank);

// MaxPool/AveragePool/LpPool: output 0 (and output 1, int64 indices, when present) from the
// pooling attributes and input 0's shape.
Status infer_pool(InferenceContext& ctx, bool allow_int8);

}  // namespace kiln
