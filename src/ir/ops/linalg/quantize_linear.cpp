// QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point). Opset 10: per tensor;
// 13: per axis; 19: float16/bfloat16 x and scale, float8 outputs, saturate; 21: blocked
// quantization, int16/uint16 and int4/uint4 outputs, output_dtype.
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

void register_quantize_linear(OpRegistry& r) {
  OpSchema s;
  s.op_type = "QuantizeLinear";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 0, "x",
        {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32}));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 1, "y_scale",
        {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32}));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 2, "y_zero_point",
        {DataType::kUInt8, DataType::kInt8, DataType::kUInt16, DataType::kInt16, DataType::kUInt4,
         DataType::kInt4, DataType::kFloat8E4M3FN, DataType::kFloat8E4M3FNUZ,
         DataType::kFloat8E5M2, DataType::kFloat8E5M2FNUZ}));
    const int64_t odt = ctx.opset() >= 21 ? ctx.attrs().get_int("output_dtype", 0) : 0;
    DataType out = DataType::kUInt8;
    if (ctx.has_input(2)) {
      out = ctx.input_dtype(2);
      if (odt != 0 && out != DataType::kUndefined && static_cast<int64_t>(out) != odt) {
        return ctx.error(
            fmt::format("attribute 'output_dtype' ({}) differs from y_zero_point's dtype {}", odt,
                        dtype_name(out)));
      }
    } else if (odt != 0) {
      out = static_cast<DataType>(odt);
      if (out != DataType::kUInt8 && out != DataType::kInt8 && out != DataType::kUInt16 &&
          out != DataType::kInt16 && !dtype_is_lowbit(out)) {
        const std::string msg = fmt::format(
            "attribute 'output_dtype' is {} ({}), expected a quantized type", odt, dtype_name(out));
        if (!dtype_is_supported(out) || dtype_is_float(out)) return ctx.unsupported_error(msg);
        return ctx.error(msg);
      }
    }
    const int64_t block = ctx.opset() >= 21 ? ctx.attrs().get_int("block_size", 0) : 0;
    if (is_static(ctx.input_shape(0)) && is_static(ctx.input_shape(1))) {
      auto q = quant_layout(static_dims(*ctx.input_shape(0)), static_dims(*ctx.input_shape(1)),
                            ctx.attrs().get_int("axis", 1), block, "y_scale");
      if (!q.ok()) return ctx.error(q.status().message());
    }
    ctx.set_output(0, out, ctx.input_shape(0));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
