// Identity: y = x, any tensor dtype kiln holds.
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_identity(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Identity";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
