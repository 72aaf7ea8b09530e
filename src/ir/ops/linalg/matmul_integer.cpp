// MatMulInteger: int32 matmul of (A - a_zero_point) and (B - b_zero_point); zero points are per
// tensor (scalar), per row of A / per column of B (1-D), or N-D shapes broadcast against A / B.
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_matmul_integer(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MatMulInteger";
  s.min_inputs = 2;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"A", "B", "a_zero_point", "b_zero_point"};
    for (size_t i = 0; i < 4; ++i) {
      KILN_RETURN_IF_ERROR(
          check_input_dtype(ctx, i, kNames[i], {DataType::kInt8, DataType::kUInt8}));
    }
    for (size_t i = 0; i < 2; ++i) {
      if (ctx.has_input(i + 2) && ctx.input_dtype(i + 2) != DataType::kUndefined &&
          ctx.input_dtype(i) != DataType::kUndefined &&
          ctx.input_dtype(i + 2) != ctx.input_dtype(i)) {
        return ctx.error(std::string("input ") + kNames[i + 2] + " has another dtype than " +
                         kNames[i]);
      }
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_matmul_shape(ctx, 0, 1));
    ctx.set_output(0, DataType::kInt32, std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
