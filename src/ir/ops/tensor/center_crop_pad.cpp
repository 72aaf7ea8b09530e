// CenterCropPad: crops or zero-pads each of 'axes' (default all) to the size in input 1,
// centered (the extra element of an odd difference goes to the end).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_center_crop_pad(OpRegistry& r) {
  OpSchema s;
  s.op_type = "CenterCropPad";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(in->size());
    std::vector<int64_t> axes = ctx.attrs().get_ints("axes");
    if (!ctx.attrs().has("axes")) {
      for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    }
    KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(axes, rank)));
    (void)na;
    KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 1, "shape"));
    SymShape out = *in;
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (!op.known) {
        out[static_cast<size_t>(a)] = Dim::unknown();
        continue;
      }
      if (op.values.size() != axes.size()) {
        return ctx.error(fmt::format("input 1 'shape' has {} values, expected {} (one per axis)", op.values.size(),
                                     axes.size()));
      }
      if (op.values[i] < 0) return ctx.error(fmt::format("shape[{}] is negative ({})", i, op.values[i]));
      out[static_cast<size_t>(a)] = Dim::known(op.values[i]);
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
