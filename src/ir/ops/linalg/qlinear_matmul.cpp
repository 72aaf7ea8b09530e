// QLinearMatMul: y = saturate(round((a - a_zp) @ (b - b_zp) * a_scale * b_scale / y_scale) + y_zp).
// Scales are float32 (opset 10) or float16/bfloat16 too (opset 21); a's parameters may be per row,
// b's per column.
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_qlinear_matmul(OpRegistry& r) {
  OpSchema s;
  s.op_type = "QLinearMatMul";
  s.min_inputs = s.max_inputs = 8;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"a",       "a_scale",      "a_zero_point", "b",
                                   "b_scale", "b_zero_point", "y_scale",      "y_zero_point"};
    for (size_t i = 0; i < 8; ++i) {
      if (!ctx.has_input(i)) return ctx.error(std::string("input '") + kNames[i] + "' is required");
      if (i == 1 || i == 4 || i == 6) {
        KILN_RETURN_IF_ERROR(check_input_dtype(
            ctx, i, kNames[i], {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}));
      } else {
        KILN_RETURN_IF_ERROR(
            check_input_dtype(ctx, i, kNames[i], {DataType::kInt8, DataType::kUInt8}));
      }
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_matmul_shape(ctx, 0, 3));
    ctx.set_output(0, ctx.input_dtype(7), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
