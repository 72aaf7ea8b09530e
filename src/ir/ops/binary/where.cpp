// Where: condition ? X : Y elementwise, the three inputs broadcast together.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_where(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Where";
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 0, DtypeSet::kBool));
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 1, DtypeSet::kAny));
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 2, DtypeSet::kAny));
    KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 3));
    KILN_ASSIGN_OR_RETURN(MaybeShape shape, infer_broadcast(ctx, 0, 3));
    ctx.set_output(0, first_known_dtype(ctx, 1, 3), std::move(shape));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
