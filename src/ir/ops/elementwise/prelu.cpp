// PRelu: y = x < 0 ? slope * x : x, with slope broadcast to x's shape (unidirectionally: the
// output always has x's shape). Integer types since opset 16.
#include "fmt/format.h"
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_prelu(OpRegistry& r) {
  OpSchema s;
  s.op_type = "PRelu";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 2));
    KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, ElementTypes::kNumeric));
    const DataType xt = ctx.input_dtype(0);
    const DataType st = ctx.input_dtype(1);
    if (xt != DataType::kUndefined && st != DataType::kUndefined && xt != st) {
      return ctx.error(fmt::format("input 1 'slope' has dtype {}, expected {} like input 0 'X'",
                                   dtype_name(st), dtype_name(xt)));
    }
    const MaybeShape& xs = ctx.input_shape(0);
    const MaybeShape& ss = ctx.input_shape(1);
    if (xs && ss) {
      // Unidirectional broadcast; a 1-D slope that matches exactly one axis of X also applies
      // along that axis (the ONNX reference's fallback, needed for per-channel [C] slopes).
      bool ok = ss->size() <= xs->size();
      const size_t off = ok ? xs->size() - ss->size() : 0;
      for (size_t i = 0; ok && i < ss->size(); ++i) {
        const Dim& sd = (*ss)[i];
        const Dim& xd = (*xs)[off + i];
        ok = !(sd.is_known() && xd.is_known() && sd.value != 1 && sd.value != xd.value);
      }
      if (!ok && ss->size() == 1 && (*ss)[0].is_known()) {
        int matches = 0, unknown = 0;
        for (const Dim& xd : *xs) {
          matches += xd.is_known() && xd.value == (*ss)[0].value ? 1 : 0;
          unknown += xd.is_known() ? 0 : 1;
        }
        ok = unknown > 0 ? matches <= 1 : matches == 1;  // with unknown dims the kernel decides
      }
      if (!ok) {
        return ctx.error(fmt::format("input 1 'slope' {} does not broadcast to input 0 'X' {}",
                                     shape_to_string(ss), shape_to_string(xs)));
      }
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
