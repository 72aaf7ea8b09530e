// MatMul: numpy matmul (1-D operands promoted and their dim dropped; batch dims broadcast).
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_matmul(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MatMul";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    for (size_t i = 0; i < 2; ++i) {
      KILN_RETURN_IF_ERROR(check_input_dtype(
          ctx, i, i == 0 ? "A" : "B",
          {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16,
           DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64}));
    }
    if (ctx.input_dtype(0) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kUndefined &&
        ctx.input_dtype(0) != ctx.input_dtype(1)) {
      return ctx.error("inputs A and B have different dtypes");
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_matmul_shape(ctx, 0, 1));
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
