// Helpers shared by op schemas' inference functions.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/op_schema.h"

namespace kiln {

// Numpy-style multidirectional broadcasting of two shapes; symbols broadcast against 1 and equal
// symbols; an error if two known dims differ and neither is 1.
Result<SymShape> broadcast_shapes(const SymShape& a, const SymShape& b);
// Broadcasts all known input shapes of ctx (nullopt if any input's rank is unknown).
Result<MaybeShape> broadcast_inputs(const InferenceContext& ctx, size_t first = 0, size_t count = SIZE_MAX);

// Maps a possibly negative axis into [0, rank); an error names the axis and the rank.
Result<int64_t> normalize_axis(const InferenceContext& ctx, int64_t axis, int64_t rank);

// Output i gets input j's dtype and shape.
Status same_as_input(InferenceContext& ctx, size_t out = 0, size_t in = 0);

// Reads an int32/int64 tensor as int64 values (errors for other dtypes).
Result<std::vector<int64_t>> read_int64s(const Tensor& t);
// Reads any numeric tensor as doubles.
Result<std::vector<double>> read_doubles(const Tensor& t);

// A known dim, a symbol or unknown: a*b when both known, else unknown.
Dim mul_dims(const Dim& a, const Dim& b);

// Checks the input count against the schema and that each present input has a supported dtype.
Status check_inputs_defined(const InferenceContext& ctx);

}  // namespace kiln
