// Tile: repeats the input 'repeats[i]' times along each axis (repeats is input 1).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_tile(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Tile";
  s.min_inputs = 2;
  s.max_inputs = 3;  // opset 1 had tiles/axis inputs; only the 2-input form is supported
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    if (ctx.opset() < 6) return ctx.unsupported_error("Tile before opset 6");
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "repeats"));
    if (!in) {
      ctx.set_output(0, dt, op.length ? MaybeShape(unknown_dims(static_cast<size_t>(*op.length))) : std::nullopt);
      return ok_status();
    }
    if (!op.known) {
      ctx.set_output(0, dt, unknown_dims(in->size()));
      return ok_status();
    }
    if (op.values.size() != in->size()) {
      return ctx.error(fmt::format("input 1 'repeats' has {} values, expected {} (the input rank)",
                                   op.values.size(), in->size()));
    }
    SymShape out;
    for (size_t i = 0; i < in->size(); ++i) {
      if (op.values[i] < 0) return ctx.error(fmt::format("repeats[{}] is negative ({})", i, op.values[i]));
      out.push_back(mul_dims((*in)[i], Dim::known(op.values[i])));
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
