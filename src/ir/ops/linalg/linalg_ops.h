// The linalg family: matrix products (MatMul, Gemm, Einsum, the integer and quantized variants),
// convolutions (Conv, ConvTranspose, ConvInteger, QLinearConv, DeformConv), (de)quantization and
// Det. Each op's schema lives in its own file here; this header also declares the inference
// helpers the schemas share.
#pragma once

#include <initializer_list>
#include <string>

#include "ir/op_schema.h"

namespace kiln {

void register_matmul(OpRegistry& r);
void register_gemm(OpRegistry& r);
void register_einsum(OpRegistry& r);
void register_matmul_integer(OpRegistry& r);
void register_qlinear_matmul(OpRegistry& r);
void register_conv(OpRegistry& r);
void register_conv_transpose(OpRegistry& r);
void register_conv_integer(OpRegistry& r);
void register_qlinear_conv(OpRegistry& r);
void register_deform_conv(OpRegistry& r);
void register_quantize_linear(OpRegistry& r);
void register_dequantize_linear(OpRegistry& r);
void register_dynamic_quantize_linear(OpRegistry& r);
void register_det(OpRegistry& r);

// Checks that input i (when present and typed) has one of `allowed`; float8/int4/string/complex
// give an unsupported error, other dtypes an invalid-argument error naming the input.
Status check_input_dtype(const InferenceContext& ctx, size_t i, const char* name,
                         std::initializer_list<DataType> allowed);

// The numpy matmul shape of inputs a and b (1-D operands promoted then squeezed; batch dims
// broadcast); nullopt when either rank is unknown.
Result<MaybeShape> infer_matmul_shape(const InferenceContext& ctx, size_t a, size_t b);
// The same for operand shapes given directly (FusedMatMul passes them transposed).
Result<MaybeShape> infer_matmul_shape(const InferenceContext& ctx, const MaybeShape& sa, const MaybeShape& sb);

// Shape inference shared by Conv, ConvInteger and QLinearConv: x and w are input indices.
Result<MaybeShape> infer_conv_shape(const InferenceContext& ctx, size_t x, size_t w);
// The same for X and W of these shapes (X channels-first), with ctx's attributes.
Result<MaybeShape> infer_conv_shape_of(const InferenceContext& ctx, const MaybeShape& sx, const MaybeShape& sw);

}  // namespace kiln
