// DynamicQuantizeLinear: uint8 quantization of a float32 tensor with a scale and zero point
// computed from its range (widened to include 0). Outputs y, y_scale (scalar), y_zero_point.
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_dynamic_quantize_linear(OpRegistry& r) {
  OpSchema s;
  s.op_type = "DynamicQuantizeLinear";
  s.min_inputs = s.max_inputs = 1;
  s.min_outputs = s.max_outputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 0, "x", {DataType::kFloat32}));
    ctx.set_output(0, DataType::kUInt8, ctx.input_shape(0));
    ctx.set_output(1, DataType::kFloat32, SymShape{});
    ctx.set_output(2, DataType::kUInt8, SymShape{});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
