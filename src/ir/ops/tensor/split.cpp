// Split: cuts the input along 'axis' into the node's outputs. The sizes come from the 'split'
// attribute (before opset 13; opset 1 also took it as input 1) or input 1 (from 13); without
// them, equal parts (from opset 18, 'num_outputs' with a smaller last chunk).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_split(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Split";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.min_outputs = 1;
  s.max_outputs = OpSchema::kUnbounded;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const size_t n = ctx.num_outputs();
    if (ctx.opset() >= 18 && ctx.attrs().has("num_outputs")) {
      const int64_t no = ctx.attrs().get_int("num_outputs", 0);
      if (no < 1 || static_cast<size_t>(no) != n) {
        return ctx.error(fmt::format("num_outputs is {} but the node has {} outputs", no, n));
      }
      if (ctx.has_input(1)) return ctx.error("give either input 'split' or attribute 'num_outputs', not both");
    }
    std::optional<std::vector<int64_t>> split;
    bool split_unknown = false;
    if (ctx.opset() < 13 && ctx.attrs().has("split")) {
      split = ctx.attrs().get_ints("split");
    } else if (ctx.has_input(1) && (ctx.opset() >= 13 || ctx.opset() < 2)) {
      KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "split"));
      if (op.known) split = op.values;
      else split_unknown = true;
    }
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      for (size_t i = 0; i < n; ++i) ctx.set_output(i, dt, std::nullopt);
      return ok_status();
    }
    KILN_ASSIGN_OR_RETURN(int64_t axis,
                          normalize_axis(ctx, ctx.attrs().get_int("axis", 0), static_cast<int64_t>(in->size())));
    if (in->empty()) return ctx.error("cannot split a scalar");
    const Dim& d = (*in)[static_cast<size_t>(axis)];
    std::vector<Dim> sizes(n, Dim::unknown());
    if (split && !d.is_known()) {
      if (split->size() != n) {
        return ctx.error(fmt::format("split has {} values but the node has {} outputs", split->size(), n));
      }
      for (size_t i = 0; i < n; ++i) sizes[i] = Dim::known((*split)[i]);
    } else if (d.is_known() && !split_unknown) {
      auto v = split_sizes(d.value, split, n, ctx.opset() >= 18);
      if (v.ok()) {
        for (size_t i = 0; i < n; ++i) sizes[i] = Dim::known((*v)[i]);
      } else if (split) {
        return ctx.error(v.status().message());
      }
      // An axis that cannot be cut into n parts is left to the kernel to report: graph inference
      // also visits If branches that never run (AffineGrid's expansion splits there).
    }
    for (size_t i = 0; i < n; ++i) {
      SymShape out = *in;
      out[static_cast<size_t>(axis)] = sizes[i];
      ctx.set_output(i, dt, out);
    }
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
