// DequantizeLinear: y = (x - x_zero_point) * x_scale, y of x_scale's dtype. Opset 10: per tensor;
// 13: per axis; 19: float16/bfloat16 scales, float8 x; 21: blocked, 16-bit and int4/uint4 x.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

void register_dequantize_linear(OpRegistry& r) {
  OpSchema s;
  s.op_type = "DequantizeLinear";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 0, "x",
        {DataType::kUInt8, DataType::kInt8, DataType::kUInt16, DataType::kInt16, DataType::kInt32,
         DataType::kUInt4, DataType::kInt4, DataType::kFloat8E4M3FN, DataType::kFloat8E4M3FNUZ,
         DataType::kFloat8E5M2, DataType::kFloat8E5M2FNUZ}));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 1, "x_scale", {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 2, "x_zero_point",
        {DataType::kUInt8, DataType::kInt8, DataType::kUInt16, DataType::kInt16, DataType::kInt32,
         DataType::kUInt4, DataType::kInt4, DataType::kFloat8E4M3FN, DataType::kFloat8E4M3FNUZ,
         DataType::kFloat8E5M2, DataType::kFloat8E5M2FNUZ}));
    if (ctx.has_input(2) && ctx.input_dtype(2) != DataType::kUndefined &&
        ctx.input_dtype(0) != DataType::kUndefined && ctx.input_dtype(2) != ctx.input_dtype(0)) {
      return ctx.error(fmt::format("x_zero_point has dtype {} but x has {}",
                                   dtype_name(ctx.input_dtype(2)), dtype_name(ctx.input_dtype(0))));
    }
    const int64_t block = ctx.opset() >= 21 ? ctx.attrs().get_int("block_size", 0) : 0;
    if (is_static(ctx.input_shape(0)) && is_static(ctx.input_shape(1))) {
      auto q = quant_layout(static_dims(*ctx.input_shape(0)), static_dims(*ctx.input_shape(1)),
                            ctx.attrs().get_int("axis", 1), block, "x_scale");
      if (!q.ok()) return ctx.error(q.status().message());
    }
    ctx.set_output(0, ctx.input_dtype(1), ctx.input_shape(0));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
