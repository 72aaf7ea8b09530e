// kiln.FusedConv: Y = post_activation(activation(Conv(X, W) + B) + Z), with every Conv attribute,
// the optional bias B [M] and the optional residual Z of Y's shape (docs/fused_ops.md).
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_fused_conv(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "FusedConv";
  s.since_version = 1;
  s.min_inputs = 2;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"X", "W", "B", "Z"}));
    KILN_RETURN_IF_ERROR(check_activation_attrs(ctx));
    // The convolution itself is Conv's: same attributes, same geometry, same checks. With
    // channels_last, X, Z and Y hold the channels in their last dim (N, spatial..., C): the
    // geometry is computed on X's channels-first view and Y's shape permuted back.
    const int64_t channels_last = ctx.attrs().get_int("channels_last", 0);
    if (channels_last != 0 && channels_last != 1) {
      return ctx.error(fmt::format("attribute 'channels_last' is {}, expected 0 or 1", channels_last));
    }
    MaybeShape sx = ctx.input_shape(0);
    if (channels_last && sx) {
      if (sx->size() < 3) return ctx.error(fmt::format("input 0 'X' has rank {}, expected >= 3 (N, spatial..., C)", sx->size()));
      sx = channels_first_shape(*sx);
    }
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_conv_shape_of(ctx, sx, ctx.input_shape(1)));
    if (channels_last && out) out = channels_last_shape(*out);
    const size_t c_axis = channels_last && out ? out->size() - 1 : 1;
    if (const MaybeShape& b = ctx.input_shape(2); ctx.has_input(2) && b) {
      if (b->size() != 1) return ctx.error(fmt::format("input 2 'B' has rank {}, expected 1", b->size()));
      if (out && (*out)[c_axis].is_known() && (*b)[0].is_known() && (*b)[0].value != (*out)[c_axis].value) {
        return ctx.error(fmt::format("input 2 'B' has {} values, expected {}", (*b)[0].value, (*out)[c_axis].value));
      }
    }
    if (const MaybeShape& z = ctx.input_shape(3); ctx.has_input(3) && z && out) {
      // The residual has Y's shape exactly (it is added elementwise, never broadcast).
      bool same = z->size() == out->size();
      for (size_t i = 0; same && i < z->size(); ++i) {
        same = !(*z)[i].is_known() || !(*out)[i].is_known() || (*z)[i].value == (*out)[i].value;
      }
      if (!same) {
        return ctx.error(fmt::format("input 3 'Z' has shape {}, expected the output's shape {}", shape_to_string(z),
                                     shape_to_string(out)));
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
