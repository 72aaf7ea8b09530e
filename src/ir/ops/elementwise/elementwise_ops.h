// Elementwise ops: unary math, activations, Clip, PRelu, Identity, Cast and CastLike.
#pragma once

#include <string>

#include "ir/op_schema.h"

namespace kiln {

// Which input dtypes an elementwise op accepts (the union over opsets 7..22).
enum class ElementTypes {
  kFloat,          // float16, bfloat16, float32, float64
  kNumeric,        // floats and all integers
  kSignedNumeric,  // floats and signed integers (Neg, Relu)
  kInt,            // all integers (BitwiseNot)
  kBool,           // bool (Not)
};

// Checks that input `in` (when present and of known dtype) is one of `types`; the error names
// the input and the accepted set. Unsupported kiln dtypes (string, float8, ...) are reported as
// unsupported rather than invalid.
Status check_element_type(const InferenceContext& ctx, size_t in, ElementTypes types);

// Checks that the first `n` inputs are present (not left empty) and have a kiln-supported dtype.
Status check_required_inputs(const InferenceContext& ctx, size_t n);

void register_relu(OpRegistry& r);
void register_unary_math_ops(OpRegistry& r);
void register_activation_ops(OpRegistry& r);
void register_prelu(OpRegistry& r);
void register_clip(OpRegistry& r);
void register_identity(OpRegistry& r);
void register_cast(OpRegistry& r);
void register_cast_like(OpRegistry& r);

}  // namespace kiln
