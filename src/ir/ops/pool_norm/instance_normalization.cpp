// InstanceNormalization: per (sample, channel), normalize over the spatial axes, then scale and
// shift per channel: y = scale * (x - mean) / sqrt(var + epsilon) + B.
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_instance_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "InstanceNormalization";
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    for (size_t i = 0; i < 3; ++i) KILN_RETURN_IF_ERROR(check_float_input(ctx, i));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 2));
    const MaybeShape& x = ctx.input_shape(0);
    for (size_t i = 1; i < 3; ++i) {
      const MaybeShape& p = ctx.input_shape(i);
      if (!p) continue;
      if (p->size() != 1) {
        return ctx.error(fmt::format("input {} has shape {}, expected a 1-D tensor of the channel count", i, shape_to_string(p)));
      }
      if (x && (*x)[1].is_known() && (*p)[0].is_known() && (*p)[0].value != (*x)[1].value) {
        return ctx.error(fmt::format("input {} has {} values, but input 0 has {} channels", i, (*p)[0].value, (*x)[1].value));
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), x);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
