// Pow: base ** exponent, output of the base's dtype. From opset 12 the exponent may have another
// dtype than the base (any numeric); earlier opsets required the same float type, which this
// accepts too.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_pow(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Pow";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 0, DtypeSet::kPowBase));
    KILN_RETURN_IF_ERROR(check_input_dtype(ctx, 1, DtypeSet::kNumeric));
    KILN_ASSIGN_OR_RETURN(MaybeShape shape, infer_broadcast(ctx));
    ctx.set_output(0, ctx.input_dtype(0), std::move(shape));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
