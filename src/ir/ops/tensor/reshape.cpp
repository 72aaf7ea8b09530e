// Reshape: same data, new shape. The shape is the attribute 'shape' before opset 5 and input 1
// from opset 5; 0 copies the input dim (unless allowzero=1, opset 14), one -1 is inferred.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_reshape(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Reshape";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const bool allowzero = ctx.opset() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
    std::vector<int64_t> shape;
    if (ctx.opset() < 5) {
      KILN_ASSIGN_OR_RETURN(shape, with_node_result(ctx, ctx.attrs().require_ints("shape")));
    } else {
      if (!ctx.has_input(1)) return ctx.error("input 1 'shape' is required");
      KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "shape"));
      if (!op.known && op.elems && ctx.input_shape(0)) {
        auto out = reshape_output_shape(*ctx.input_shape(0), *op.elems, allowzero);
        if (!out.ok()) return ctx.error(out.status().message());
        ctx.set_output(0, dt, *out);
        return ok_status();
      }
      if (!op.known) {
        if (op.length) ctx.set_output(0, dt, unknown_dims(static_cast<size_t>(*op.length)));
        else ctx.set_output(0, dt, std::nullopt);
        return ok_status();
      }
      shape = std::move(op.values);
    }
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      // Only the dims given explicitly are known.
      SymShape out;
      for (int64_t v : shape) out.push_back(v > 0 || (v == 0 && allowzero) ? Dim::known(v) : Dim::unknown());
      ctx.set_output(0, dt, out);
      return ok_status();
    }
    auto out = reshape_output_shape(*in, shape, allowzero);
    if (!out.ok()) return ctx.error(out.status().message());
    ctx.set_output(0, dt, *out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
