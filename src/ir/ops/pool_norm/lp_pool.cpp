// LpPool: (sum over the window of |x|^p)^(1/p); padded positions add nothing.
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_geometry.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_lp_pool(OpRegistry& r) {
  OpSchema s;
  s.op_type = "LpPool";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    const double p = attr_p(ctx.attrs(), 2.0);
    if (!(p > 0)) return ctx.error(fmt::format("attribute 'p' is {}, expected a positive value", p));
    return infer_pool(ctx, /*allow_int8=*/false);
  };
  r.add(std::move(s));
}

}  // namespace kiln
