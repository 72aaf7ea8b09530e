// DepthToSpace: [N, C, H, W] -> [N, C/(b*b), H*b, W*b]; mode DCR (default) or CRD (opset 11).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_depth_to_space(OpRegistry& r) {
  OpSchema s;
  s.op_type = "DepthToSpace";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_ASSIGN_OR_RETURN(int64_t b, with_node_result(ctx, ctx.attrs().require_int("blocksize")));
    int64_t bb = 0;
    if (b <= 0 || __builtin_mul_overflow(b, b, &bb)) return ctx.error(fmt::format("blocksize {} is invalid", b));
    const std::string mode = ctx.attrs().get_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.error(fmt::format("unknown mode '{}'", mode));
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, ctx.input_dtype(0), SymShape(4, Dim::unknown()));
      return ok_status();
    }
    if (in->size() != 4) return ctx.error(fmt::format("input must be 4-D, has shape {}", shape_to_string(in)));
    SymShape out = *in;
    const Dim& c = (*in)[1];
    if (c.is_known()) {
      if (c.value % (b * b) != 0) {
        return ctx.error(fmt::format("channels {} are not divisible by blocksize^2 = {}", c.value, b * b));
      }
      out[1] = Dim::known(c.value / (b * b));
    } else {
      out[1] = Dim::unknown();
    }
    out[2] = mul_dims((*in)[2], Dim::known(b));
    out[3] = mul_dims((*in)[3], Dim::known(b));
    ctx.set_output(0, ctx.input_dtype(0), out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
