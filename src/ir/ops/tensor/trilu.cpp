// Trilu: keeps the upper (upper=1, default) or lower triangle of the last two axes, shifted by
// the optional scalar k (input 1); the rest is zero.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_trilu(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Trilu";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const MaybeShape& in = ctx.input_shape(0);
    if (in && in->size() < 2) return ctx.error(fmt::format("input must have rank >= 2, has shape {}", shape_to_string(in)));
    if (ctx.has_input(1) && ctx.input_dtype(1) != DataType::kInt64 && ctx.input_dtype(1) != DataType::kUndefined) {
      return ctx.error(fmt::format("input 1 'k' must be int64, got {}", dtype_name(ctx.input_dtype(1))));
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
