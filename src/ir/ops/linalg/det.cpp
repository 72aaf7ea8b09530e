// Det: determinants of square matrices [*, M, M] -> [*].
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_det(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Det";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, 0, "X",
        {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}));
    const MaybeShape& x = ctx.input_shape(0);
    if (!x) {
      ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
      return ok_status();
    }
    if (x->size() < 2)
      return ctx.error(fmt::format("input 0 'X' has rank {}, expected >= 2", x->size()));
    const Dim& a = (*x)[x->size() - 2];
    const Dim& b = (*x)[x->size() - 1];
    if (a.is_known() && b.is_known() && a.value != b.value) {
      return ctx.error(
          fmt::format("input 0 'X' {} is not made of square matrices", shape_to_string(x)));
    }
    ctx.set_output(0, ctx.input_dtype(0), SymShape(x->begin(), x->end() - 2));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
