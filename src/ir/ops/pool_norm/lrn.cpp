// LRN: local response normalization across channels (axis 1):
// y = x / (bias + alpha / size * sum of x^2 over the channel window) ^ beta.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_lrn(OpRegistry& r) {
  OpSchema s;
  s.op_type = "LRN";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 2));
    if (!ctx.attrs().has("size")) return ctx.error("attribute 'size' is required");
    const int64_t size = ctx.attrs().get_int("size", 0);
    if (size < 1) return ctx.error(fmt::format("attribute 'size' is {}, expected a positive value", size));
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
