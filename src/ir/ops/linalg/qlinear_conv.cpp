// QLinearConv: a quantized Conv. y = saturate(round(conv(x - x_zp, w - w_zp) + B) * x_scale *
// w_scale / y_scale) + y_zp), w's scale and zero point per tensor or per output channel.
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_qlinear_conv(OpRegistry& r) {
  OpSchema s;
  s.op_type = "QLinearConv";
  s.min_inputs = 8;
  s.max_inputs = 9;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"x",       "x_scale",      "x_zero_point",
                                   "w",       "w_scale",      "w_zero_point",
                                   "y_scale", "y_zero_point", "B"};
    for (size_t i = 0; i < 9; ++i) {
      if (i < 8 && !ctx.has_input(i))
        return ctx.error(std::string("input '") + kNames[i] + "' is required");
      if (i == 1 || i == 4 || i == 6) {
        KILN_RETURN_IF_ERROR(check_input_dtype(ctx, i, kNames[i], {DataType::kFloat32}));
      } else if (i == 8) {
        KILN_RETURN_IF_ERROR(check_input_dtype(ctx, i, kNames[i], {DataType::kInt32}));
      } else {
        KILN_RETURN_IF_ERROR(
            check_input_dtype(ctx, i, kNames[i], {DataType::kInt8, DataType::kUInt8}));
      }
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_conv_shape(ctx, 0, 3));
    ctx.set_output(0, ctx.input_dtype(7), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
