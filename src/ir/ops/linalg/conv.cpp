// Conv: N-D convolution of X [N, C, D1..Dn] with W [M, C/group, k1..kn] plus an optional bias
// B [M]; pads explicit or from auto_pad; kernel_shape defaults to W's spatial dims.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_conv(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Conv";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"X", "W", "B"};
    for (size_t i = 0; i < 3; ++i) {
      KILN_RETURN_IF_ERROR(check_input_dtype(
          ctx, i, kNames[i],
          {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}));
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_conv_shape(ctx, 0, 1));
    if (const MaybeShape& b = ctx.input_shape(2); ctx.has_input(2) && b) {
      if (b->size() != 1)
        return ctx.error(fmt::format("input 2 'B' has rank {}, expected 1", b->size()));
      if (out && (*out)[1].is_known() && (*b)[0].is_known() && (*b)[0].value != (*out)[1].value) {
        return ctx.error(
            fmt::format("input 2 'B' has {} values, expected {}", (*b)[0].value, (*out)[1].value));
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
