// Flatten: a 2-D view (dims before 'axis' x dims from 'axis'); axis in [-r, r], default 1.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_flatten(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Flatten";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, dt, unknown_dims(2));
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(in->size());
    int64_t axis = ctx.attrs().get_int("axis", 1);
    if (axis < -rank || axis > rank) {
      return ctx.error(fmt::format("axis {} is out of range for rank {} (expected [-r, r])", axis, rank));
    }
    if (axis < 0) axis += rank;
    Dim a = Dim::known(1), b = Dim::known(1);
    for (int64_t i = 0; i < rank; ++i) {
      Dim& acc = i < axis ? a : b;
      acc = mul_dims(acc, (*in)[static_cast<size_t>(i)]);
    }
    ctx.set_output(0, dt, SymShape{a, b});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
