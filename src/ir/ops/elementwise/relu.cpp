// Relu: y = max(x, 0). Same dtype and shape as its input.
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_relu(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Relu";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
    // Signed integers since opset 14.
    KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, ElementTypes::kSignedNumeric));
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
