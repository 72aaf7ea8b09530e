// kiln.FusedPointwise: a chain of elementwise steps applied in order to a running value that starts
// at X; binary steps take another input (E1..En, each broadcast to X's shape without enlarging
// it). The output has X's shape and dtype.
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_fused_pointwise(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "FusedPointwise";
  s.since_version = 1;
  s.min_inputs = 1;
  s.max_inputs = OpSchema::kUnbounded;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    if (!ctx.has_input(0)) return ctx.error("input 0 'X' is required");
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} 'E{}' is empty (operands cannot be omitted)", i, i));
    }
    KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"X"}));
    auto steps = read_pointwise_steps(ctx.attrs(), ctx.num_inputs());
    if (!steps.ok()) return ctx.error(steps.status().message());
    const MaybeShape& x = ctx.input_shape(0);
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      KILN_RETURN_IF_ERROR(check_broadcasts_into(ctx, ctx.input_shape(i), x, fmt::format("input {} 'E{}'", i, i)));
    }
    ctx.set_output(0, ctx.input_dtype(0), x);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
