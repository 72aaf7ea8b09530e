// Slice: starts/ends/axes as attributes before opset 10; from 10 they are inputs 1..3 with
// optional steps (input 4), which may be negative. Indices clamp as the spec says.
#include <limits>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_slice(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Slice";
  s.min_inputs = 1;
  s.max_inputs = 5;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    std::vector<int64_t> starts, ends;
    std::optional<std::vector<int64_t>> axes, steps;
    bool known = true;
    if (ctx.opset() < 10) {
      KILN_ASSIGN_OR_RETURN(starts, with_node_result(ctx, ctx.attrs().require_ints("starts")));
      KILN_ASSIGN_OR_RETURN(ends, with_node_result(ctx, ctx.attrs().require_ints("ends")));
      if (ctx.attrs().has("axes")) axes = ctx.attrs().get_ints("axes");
    } else {
      if (!ctx.has_input(1) || !ctx.has_input(2)) return ctx.error("inputs 'starts' and 'ends' are required");
      KILN_ASSIGN_OR_RETURN(IntsOperand st, ints_operand(ctx, 1, "starts"));
      KILN_ASSIGN_OR_RETURN(IntsOperand en, ints_operand(ctx, 2, "ends"));
      KILN_ASSIGN_OR_RETURN(IntsOperand ax, ints_operand(ctx, 3, "axes"));
      KILN_ASSIGN_OR_RETURN(IntsOperand sp, ints_operand(ctx, 4, "steps"));
      known = st.known && en.known && (!sp.present || sp.known);
      starts = st.values;
      ends = en.values;
      if (ax.present) {
        if (ax.known) axes = ax.values;
        else known = false;
      }
      if (sp.present && sp.known) steps = sp.values;
      if (!known && in) {
        // Only the axes that are sliced lose their size.
        SymShape out = *in;
        if (axes) {
          KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(*axes, static_cast<int64_t>(in->size()))));
          for (int64_t a : na) out[static_cast<size_t>(a)] = Dim::unknown();
        } else if (!ax.present && st.length) {
          for (int64_t i = 0; i < *st.length && i < static_cast<int64_t>(out.size()); ++i) {
            out[static_cast<size_t>(i)] = Dim::unknown();
          }
        } else {
          out = unknown_dims(in->size());
        }
        ctx.set_output(0, dt, out);
        return ok_status();
      }
    }
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(in->size());
    KILN_ASSIGN_OR_RETURN(SliceSpec spec, with_node_result(ctx, make_slice_spec(starts, ends, axes, steps, rank)));
    SymShape out = *in;
    for (size_t i = 0; i < spec.axes.size(); ++i) {
      Dim& d = out[static_cast<size_t>(spec.axes[i])];
      if (d.is_known()) {
        d = Dim::known(slice_axis(d.value, spec.starts[i], spec.ends[i], spec.steps[i]).count);
      } else if (!(spec.starts[i] == 0 && spec.steps[i] == 1 &&
                   spec.ends[i] >= std::numeric_limits<int32_t>::max())) {
        d = Dim::unknown();  // a whole-axis slice keeps its symbol; others cannot be told
      }
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
