// Squeeze: drops size-1 axes ('axes' attribute before opset 13, optional input 1 from 13;
// without axes, every size-1 axis).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_squeeze(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Squeeze";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    std::optional<std::vector<int64_t>> axes;
    if (ctx.opset() < 13) {
      if (ctx.attrs().has("axes")) axes = ctx.attrs().get_ints("axes");
    } else if (ctx.has_input(1)) {
      KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "axes"));
      if (!op.known) {
        if (in && op.length && *op.length <= static_cast<int64_t>(in->size())) {
          ctx.set_output(0, dt, unknown_dims(in->size() - static_cast<size_t>(*op.length)));
        } else {
          ctx.set_output(0, dt, std::nullopt);
        }
        return ok_status();
      }
      axes = op.values;
    }
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    SymShape out;
    if (!axes) {
      for (const Dim& d : *in) {
        if (!d.is_known()) {
          ctx.set_output(0, dt, std::nullopt);  // cannot tell whether it is 1
          return ok_status();
        }
        if (d.value != 1) out.push_back(d);
      }
    } else {
      KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(*axes, static_cast<int64_t>(in->size()))));
      size_t k = 0;
      for (size_t i = 0; i < in->size(); ++i) {
        if (k < na.size() && na[k] == static_cast<int64_t>(i)) {
          ++k;
          const Dim& d = (*in)[i];
          if (d.is_known() && d.value != 1) {
            return ctx.error(fmt::format("cannot squeeze axis {} of size {}", i, d.value));
          }
          continue;
        }
        out.push_back((*in)[i]);
      }
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
