// LpNormalization: x / ||x||_p along one axis, p in {1, 2}.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_lp_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "LpNormalization";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 1));
    const int64_t p = ctx.attrs().get_int("p", 2);
    if (p != 1 && p != 2) return ctx.error(fmt::format("attribute 'p' is {}, expected 1 or 2", p));
    if (ctx.input_shape(0)) {
      KILN_RETURN_IF_ERROR(
          normalize_axis(ctx, ctx.attrs().get_int("axis", -1), static_cast<int64_t>(ctx.input_shape(0)->size())).status());
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
