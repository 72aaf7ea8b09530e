// kiln.RMSNormalization: Y = X / sqrt(mean(X^2 over dims axis..rank-1) + epsilon) * scale, with
// scale broadcast to the normalized dims (as LayerNormalization's Scale).
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_rms_normalization(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "RMSNormalization";
  s.since_version = 1;
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.error("inputs 0 'X' and 1 'scale' are required");
    KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"X", "scale"}));
    const float eps = ctx.attrs().get_float("epsilon", 1e-5f);
    if (!(eps >= 0)) return ctx.error(fmt::format("attribute 'epsilon' is {}, expected >= 0", eps));
    const MaybeShape& x = ctx.input_shape(0);
    if (x) {
      const int64_t rank = static_cast<int64_t>(x->size());
      if (rank < 1) return ctx.error("input 0 'X' is a scalar, expected rank 1 or more");
      KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.attrs().get_int("axis", -1), rank));
      const SymShape normalized(x->begin() + axis, x->end());
      KILN_RETURN_IF_ERROR(check_broadcasts_into(ctx, ctx.input_shape(1), normalized,
                                                 fmt::format("input 1 'scale' (to the normalized dims, axis {})", axis)));
    }
    ctx.set_output(0, ctx.input_dtype(0), x);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
