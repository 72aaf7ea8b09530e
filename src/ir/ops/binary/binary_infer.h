// Inference shared by the binary family: every op here broadcasts its inputs numpy-style and
// differs only in which dtypes it accepts and which dtype it outputs.
#pragma once

#include <cstddef>

#include "ir/op_schema.h"

namespace kiln {

// Which dtypes an input may have.
enum class DtypeSet {
  kNumeric,   // floats and integers
  kFloat,     // float16, bfloat16, float32, float64
  kInt,       // signed and unsigned integers
  kUnsigned,  // unsigned integers
  kBool,
  kNumericOrBool,
  kPowBase,  // floats, int32, int64
  kAny,      // every kiln dtype
};

// Checks input i's dtype against `set` (inputs of unknown dtype pass).
Status check_input_dtype(const InferenceContext& ctx, size_t i, DtypeSet set);
// Checks that inputs [first, end) that have known dtypes all share one.
Status check_same_dtype(const InferenceContext& ctx, size_t first, size_t end);
// The broadcast shape of inputs [first, end), honouring the legacy (opset < 7) axis attribute.
Result<MaybeShape> infer_broadcast(const InferenceContext& ctx, size_t first = 0,
                                   size_t end = SIZE_MAX);
// The first known dtype among inputs [first, end).
DataType first_known_dtype(const InferenceContext& ctx, size_t first, size_t end);

// A whole schema for the common case: inputs [0, n) of one dtype from `set`, broadcast; the output
// is `out` (kUndefined: the inputs' dtype).
OpSchema make_broadcast_schema(const char* op_type, size_t min_inputs, size_t max_inputs,
                               DtypeSet set, DataType out = DataType::kUndefined);

}  // namespace kiln
