// Size: the input's element count as an int64 scalar (a value too when the shape is known).
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_size(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Size";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const MaybeShape& in = ctx.input_shape(0);
    if (!is_static(in)) {
      ctx.set_output(0, DataType::kInt64, SymShape{});
      return ok_status();
    }
    const int64_t n = element_count(static_dims(*in));
    if (n < 0) return ctx.error("element count overflows");
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kInt64, {}));
    *t.data_as<int64_t>() = n;
    ctx.set_output_value(0, std::move(t));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
