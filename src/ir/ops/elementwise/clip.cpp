// Clip: y = min(max(x, lo), hi). Before opset 11 the bounds are float attributes 'min'/'max'
// (float types only); from opset 11 they are optional scalar inputs 1 and 2 of x's dtype
// (all numeric types from opset 12).
#include "fmt/format.h"
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_clip(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Clip";
  s.min_inputs = 1;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
    if (ctx.opset() < 11) {
      KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, ElementTypes::kFloat));
      if (ctx.has_input(1) || ctx.has_input(2)) {
        return ctx.error(
            fmt::format("opset {} Clip takes its bounds as attributes, not inputs", ctx.opset()));
      }
      return same_as_input(ctx);
    }
    KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, ElementTypes::kNumeric));
    const DataType xt = ctx.input_dtype(0);
    static const char* const kNames[] = {"input", "min", "max"};
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      const DataType t = ctx.input_dtype(i);
      if (xt != DataType::kUndefined && t != DataType::kUndefined && t != xt) {
        return ctx.error(fmt::format("input {} '{}' has dtype {}, expected {} like input 0", i,
                                     kNames[i], dtype_name(t), dtype_name(xt)));
      }
      // ONNX asks for a scalar; a one-element tensor is accepted too.
      const MaybeShape& sh = ctx.input_shape(i);
      if (is_static(sh) && element_count(static_dims(*sh)) != 1) {
        return ctx.error(fmt::format("input {} '{}' has shape {}, expected a scalar", i, kNames[i],
                                     shape_to_string(sh)));
      }
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
