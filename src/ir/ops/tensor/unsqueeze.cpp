// Unsqueeze: inserts size-1 axes at 'axes' (of the output's rank); attribute before opset 13,
// input 1 from 13.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_unsqueeze(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Unsqueeze";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    std::vector<int64_t> axes;
    if (ctx.opset() < 13) {
      KILN_ASSIGN_OR_RETURN(axes, with_node_result(ctx, ctx.attrs().require_ints("axes")));
    } else {
      if (!ctx.has_input(1)) return ctx.error("input 1 'axes' is required");
      KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "axes"));
      if (!op.known) {
        if (in && op.length) ctx.set_output(0, dt, unknown_dims(in->size() + static_cast<size_t>(*op.length)));
        else ctx.set_output(0, dt, std::nullopt);
        return ok_status();
      }
      axes = op.values;
    }
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    const int64_t out_rank = static_cast<int64_t>(in->size() + axes.size());
    KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(axes, out_rank)));
    SymShape out;
    size_t k = 0, j = 0;
    for (int64_t i = 0; i < out_rank; ++i) {
      if (k < na.size() && na[k] == i) {
        out.push_back(Dim::known(1));
        ++k;
      } else {
        out.push_back((*in)[j++]);
      }
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
