// ConvInteger: int32 convolution of (x - x_zero_point) and (w - w_zero_point); w's zero point may
// be per output channel.
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_conv_integer(OpRegistry& r) {
  OpSchema s;
  s.op_type = "ConvInteger";
  s.min_inputs = 2;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"x", "w", "x_zero_point", "w_zero_point"};
    for (size_t i = 0; i < 4; ++i) {
      KILN_RETURN_IF_ERROR(
          check_input_dtype(ctx, i, kNames[i], {DataType::kInt8, DataType::kUInt8}));
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_conv_shape(ctx, 0, 1));
    ctx.set_output(0, DataType::kInt32, std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
