// SpaceToDepth: [N, C, H, W] -> [N, C*b*b, H/b, W/b].
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_space_to_depth(OpRegistry& r) {
  OpSchema s;
  s.op_type = "SpaceToDepth";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_ASSIGN_OR_RETURN(int64_t b, with_node_result(ctx, ctx.attrs().require_int("blocksize")));
    int64_t bb = 0;
    if (b <= 0 || __builtin_mul_overflow(b, b, &bb)) return ctx.error(fmt::format("blocksize {} is invalid", b));
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, ctx.input_dtype(0), SymShape(4, Dim::unknown()));
      return ok_status();
    }
    if (in->size() != 4) return ctx.error(fmt::format("input must be 4-D, has shape {}", shape_to_string(in)));
    SymShape out = *in;
    out[1] = mul_dims((*in)[1], Dim::known(b * b));
    for (size_t i = 2; i < 4; ++i) {
      const Dim& d = (*in)[i];
      if (!d.is_known()) {
        out[i] = Dim::unknown();
        continue;
      }
      if (d.value % b != 0) return ctx.error(fmt::format("dim {} ({}) is not divisible by blocksize {}", i, d.value, b));
      out[i] = Dim::known(d.value / b);
    }
    ctx.set_output(0, ctx.input_dtype(0), out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
