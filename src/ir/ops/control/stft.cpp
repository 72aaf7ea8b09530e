// STFT: frames of a [batch, length, 1|2] signal, each weighted by `window` and transformed by a
// DFT of frame_length points: [batch, frames, bins, 2], frames = 1 + (length - frame_length) /
// frame_step, bins = frame_length / 2 + 1 when onesided (the default), else frame_length.
// Without frame_length the DFT length is the window's length (or the signal's, with no window).
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/signal_infer.h"
#include "ir/ops/infer_util.h"

namespace kiln {

void register_stft(OpRegistry& r) {
  OpSchema s;
  s.op_type = "STFT";
  s.since_version = 17;
  s.min_inputs = 2;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType t = ctx.input_dtype(0);
    if (t != DataType::kUndefined && !dtype_is_float(t)) {
      return ctx.error(fmt::format("input 0 'signal' has dtype {}, expected a float type", dtype_name(t)));
    }
    const int64_t onesided = ctx.attrs().get_int("onesided", 1);
    if (onesided != 0 && onesided != 1) return ctx.error(fmt::format("attribute 'onesided' is {}, expected 0 or 1", onesided));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> step, scalar_int_input(ctx, 1, "frame_step"));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> flen, scalar_int_input(ctx, 3, "frame_length"));
    if (step && *step <= 0) return ctx.error(fmt::format("input 1 'frame_step' is {}, expected > 0", *step));
    if (flen && *flen <= 0) return ctx.error(fmt::format("input 3 'frame_length' is {}, expected > 0", *flen));
    const MaybeShape& sig = ctx.input_shape(0);
    if (sig && sig->size() != 3) {
      return ctx.error(fmt::format("input 0 'signal' has shape {}, expected [batch, length, 1 or 2]", shape_to_string(sig)));
    }
    if (sig && (*sig)[2].is_known() && (*sig)[2].value != 1 && (*sig)[2].value != 2) {
      return ctx.error(fmt::format("input 0 'signal' has shape {}, expected last dim 1 or 2", shape_to_string(sig)));
    }
    const MaybeShape& win = ctx.input_shape(2);
    if (ctx.has_input(2) && win && win->size() != 1) {
      return ctx.error(fmt::format("input 2 'window' has shape {}, expected rank 1", shape_to_string(win)));
    }
    Dim length = sig ? (*sig)[1] : Dim::unknown();
    Dim fl = Dim::unknown();
    if (ctx.has_input(3)) {
      if (flen) fl = Dim::known(*flen);
    } else if (ctx.has_input(2)) {
      if (win) fl = (*win)[0];
    } else {
      fl = length;
    }
    Dim frames = Dim::unknown();
    if (length.is_known() && fl.is_known() && step) {
      if (length.value < fl.value) {
        return ctx.error(fmt::format("the signal has {} samples, fewer than the frame length {}", length.value, fl.value));
      }
      frames = Dim::known(1 + (length.value - fl.value) / *step);
    }
    Dim bins = fl.is_known() ? Dim::known(onesided ? fl.value / 2 + 1 : fl.value) : Dim::unknown();
    ctx.set_output(0, t, SymShape{sig ? (*sig)[0] : Dim::unknown(), frames, bins, Dim::known(2)});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
