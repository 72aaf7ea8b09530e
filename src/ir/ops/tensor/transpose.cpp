// Transpose: permutes axes by 'perm' (default: reversed).
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_transpose(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Transpose";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const MaybeShape& in = ctx.input_shape(0);
    const std::vector<int64_t> attr = ctx.attrs().get_ints("perm");
    if (!in) {
      if (attr.empty()) {
        ctx.set_output(0, ctx.input_dtype(0), std::nullopt);
      } else {
        ctx.set_output(0, ctx.input_dtype(0), SymShape(attr.size(), Dim::unknown()));
      }
      return ok_status();
    }
    KILN_ASSIGN_OR_RETURN(auto perm, with_node_result(ctx, transpose_perm(attr, in->size())));
    SymShape out;
    for (int64_t p : perm) out.push_back((*in)[static_cast<size_t>(p)]);
    ctx.set_output(0, ctx.input_dtype(0), out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
