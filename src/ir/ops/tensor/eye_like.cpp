// EyeLike: a 2-D tensor shaped like the input with ones on diagonal k; dtype from the
// 'dtype' attribute, else the input's.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_eye_like(OpRegistry& r) {
  OpSchema s;
  s.op_type = "EyeLike";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    DataType dt = ctx.input_dtype(0);
    if (ctx.attrs().has("dtype")) dt = static_cast<DataType>(ctx.attrs().get_int("dtype", 0));
    if (!dtype_is_supported(dt) && dt != DataType::kUndefined) {
      return ctx.unsupported_error(fmt::format("output dtype {}", dtype_name(dt)));
    }
    const MaybeShape& in = ctx.input_shape(0);
    if (in && in->size() != 2) return ctx.error(fmt::format("input must be 2-D, has shape {}", shape_to_string(in)));
    ctx.set_output(0, dt, in ? in : MaybeShape(SymShape(2, Dim::unknown())));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
