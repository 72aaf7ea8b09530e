// Pad: modes constant/reflect/edge/wrap. Pads are the attribute 'paddings' (opset 1) or 'pads'
// (2-10) with a 'value' attribute; from 11 they are input 1 with optional constant_value
// (input 2) and, from 18, axes (input 3). Negative pads crop.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_pad(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Pad";
  s.min_inputs = 1;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    const std::string mode = ctx.attrs().get_string("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
      return ctx.error(fmt::format("unknown mode '{}'", mode));
    }
    std::vector<int64_t> pads;
    std::optional<std::vector<int64_t>> axes;
    if (ctx.opset() < 11) {
      KILN_ASSIGN_OR_RETURN(pads, with_node_result(ctx, ctx.attrs().require_ints(ctx.opset() < 2 ? "paddings" : "pads")));
    } else {
      if (!ctx.has_input(1)) return ctx.error("input 1 'pads' is required");
      if (ctx.has_input(2) && ctx.input_dtype(2) != DataType::kUndefined && ctx.input_dtype(2) != dt) {
        return ctx.error(fmt::format("input 2 'constant_value' has dtype {}, expected {}",
                                     dtype_name(ctx.input_dtype(2)), dtype_name(dt)));
      }
      KILN_ASSIGN_OR_RETURN(IntsOperand p, ints_operand(ctx, 1, "pads"));
      KILN_ASSIGN_OR_RETURN(IntsOperand a, ints_operand(ctx, 3, "axes"));
      if (ctx.opset() < 18 && a.present) return ctx.error("input 3 'axes' needs opset 18");
      if (!p.known || (a.present && !a.known)) {
        ctx.set_output(0, dt, in ? MaybeShape(unknown_dims(in->size())) : std::nullopt);
        return ok_status();
      }
      pads = p.values;
      if (a.present) axes = a.values;
    }
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    KILN_ASSIGN_OR_RETURN(auto w, with_node_result(ctx, pad_widths(pads, axes, static_cast<int64_t>(in->size()))));
    SymShape out = *in;
    for (size_t i = 0; i < out.size(); ++i) {
      if (w[i].first == 0 && w[i].second == 0) continue;
      if (!out[i].is_known()) {
        out[i] = Dim::unknown();
        continue;
      }
      int64_t v = 0;
      if (__builtin_add_overflow(out[i].value, w[i].first, &v) || __builtin_add_overflow(v, w[i].second, &v)) {
        return ctx.error(fmt::format("pads of axis {} are too large", i));
      }
      if (v < 0) return ctx.error(fmt::format("pads make axis {} negative ({})", i, v));
      if (mode != "constant" && out[i].value == 0 && v > 0) {
        return ctx.error(fmt::format("cannot pad the empty axis {} in mode '{}'", i, mode));
      }
      out[i] = Dim::known(v);
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
