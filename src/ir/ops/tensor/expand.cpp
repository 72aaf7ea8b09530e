// Expand: broadcasts the input against the shape in input 1 (bidirectionally, as numpy does).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_expand(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Expand";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "shape"));
    if (!op.known && op.elems && in) {
      KILN_ASSIGN_OR_RETURN(SymShape target, shape_from_elems(ctx, *op.elems, 1));
      auto b = broadcast_shapes(*in, target);
      if (!b.ok()) return ctx.error(b.status().message());
      ctx.set_output(0, dt, *b);
      return ok_status();
    }
    if (!op.known) {
      if (!in || !op.length) {
        ctx.set_output(0, dt, std::nullopt);
        return ok_status();
      }
      // Input dims other than 1 survive broadcasting; the rest depend on the shape's values.
      const size_t rank = std::max(in->size(), static_cast<size_t>(*op.length));
      SymShape out = unknown_dims(rank);
      for (size_t i = 0; i < in->size(); ++i) {
        const Dim& d = (*in)[i];
        if (d.is_known() && d.value != 1) out[rank - in->size() + i] = d;
      }
      ctx.set_output(0, dt, out);
      return ok_status();
    }
    for (int64_t v : op.values) {
      if (v < 0) return ctx.error(fmt::format("input 1 'shape' has a negative dim {}", v));
    }
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    auto b = broadcast_shapes(*in, sym_shape(op.values));
    if (!b.ok()) return ctx.error(b.status().message());
    ctx.set_output(0, dt, *b);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
