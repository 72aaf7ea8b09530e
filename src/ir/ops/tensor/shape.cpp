// Shape: the input's dims as int64[n]; from opset 15 only dims [start, end). When the dims are
// known ahead the value is set too, so that shape arithmetic folds.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_shape(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Shape";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, DataType::kInt64, unknown_dims(1));
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(in->size());
    int64_t start = 0, end = rank;
    if (ctx.opset() >= 15) {
      start = ctx.attrs().get_int("start", 0);
      end = ctx.attrs().get_int("end", rank);
    }
    const auto [b, e] = shape_range(start, end, rank);
    bool known = true;
    for (int64_t i = b; i < e; ++i) known &= (*in)[static_cast<size_t>(i)].is_known();
    if (!known) {
      ctx.set_output(0, DataType::kInt64, SymShape{Dim::known(e - b)});
      return ok_status();
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kInt64, {e - b}));
    for (int64_t i = b; i < e; ++i) t.data_as<int64_t>()[i - b] = (*in)[static_cast<size_t>(i)].value;
    ctx.set_output_value(0, std::move(t));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
