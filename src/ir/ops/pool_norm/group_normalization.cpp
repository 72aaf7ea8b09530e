// GroupNormalization: per sample, the C channels split into num_groups groups; each group is
// normalized over its channels and spatial axes, then scaled and shifted. At opset 18 scale and
// bias hold one value per group; from opset 21 one per channel.
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_group_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "GroupNormalization";
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    for (size_t i = 0; i < 3; ++i) KILN_RETURN_IF_ERROR(check_float_input(ctx, i));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 2));
    if (!ctx.attrs().has("num_groups")) return ctx.error("attribute 'num_groups' is required");
    const int64_t groups = ctx.attrs().get_int("num_groups", 0);
    if (groups < 1) return ctx.error(fmt::format("attribute 'num_groups' is {}, expected a positive value", groups));
    const MaybeShape& x = ctx.input_shape(0);
    if (x && (*x)[1].is_known()) {
      const int64_t c = (*x)[1].value;
      if (c % groups != 0) {
        return ctx.error(fmt::format("input 0 has {} channels, not divisible by num_groups {}", c, groups));
      }
      const int64_t per = ctx.opset() >= 21 ? c : groups;
      for (size_t i = 1; i < 3; ++i) {
        const MaybeShape& p = ctx.input_shape(i);
        if (!p) continue;
        // Opset 18 models that already carry per-channel parameters are accepted too.
        if (p->size() != 1 || ((*p)[0].is_known() && (*p)[0].value != per && (*p)[0].value != c)) {
          return ctx.error(fmt::format("input {} has shape {}, expected [{}] ({} at opset {})", i, shape_to_string(p), per,
                                       ctx.opset() >= 21 ? "one per channel" : "one per group", ctx.opset()));
        }
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), x);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
