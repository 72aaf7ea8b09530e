// DeformConv (opset 19): a 2-D Conv whose sampling points are moved by learned offsets
// [N, offset_group*kH*kW*2, oH, oW] (bilinear sampling, zeros outside), optionally scaled by a mask
// [N, offset_group*kH*kW, oH, oW].
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_deform_conv(OpRegistry& r) {
  OpSchema s;
  s.op_type = "DeformConv";
  s.min_inputs = 3;
  s.max_inputs = 5;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"X", "W", "offset", "B", "mask"};
    for (size_t i = 0; i < 5; ++i) {
      KILN_RETURN_IF_ERROR(check_input_dtype(
          ctx, i, kNames[i],
          {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}));
    }
    if (ctx.attrs().get_int("offset_group", 1) < 1)
      return ctx.error("attribute 'offset_group' must be >= 1");
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_conv_shape(ctx, 0, 1));
    if (out && out->size() != 4) {
      return ctx.unsupported_error(
          fmt::format("only 2-D DeformConv is supported (input rank {})", out->size()));
    }
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
