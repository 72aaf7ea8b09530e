// DFT: a 1-D discrete Fourier transform along one axis of a real ([..., 1]) or complex ([..., 2])
// signal; the output is complex ([..., 2]). Opset 17 takes the axis as an attribute (default 1);
// opset 20 takes it as an optional third input (default -2). Both count the axis over the full
// rank, complex dim included, and exclude that last dim.
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/signal_infer.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

Status infer_dft(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType t = ctx.input_dtype(0);
  if (t != DataType::kUndefined && !dtype_is_float(t)) {
    return ctx.error(fmt::format("input 0 has dtype {}, expected a float type", dtype_name(t)));
  }
  const int64_t inverse = ctx.attrs().get_int("inverse", 0);
  const int64_t onesided = ctx.attrs().get_int("onesided", 0);
  if (inverse != 0 && inverse != 1) return ctx.error(fmt::format("attribute 'inverse' is {}, expected 0 or 1", inverse));
  if (onesided != 0 && onesided != 1) return ctx.error(fmt::format("attribute 'onesided' is {}, expected 0 or 1", onesided));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> length, scalar_int_input(ctx, 1, "dft_length"));
  if (length && *length <= 0) return ctx.error(fmt::format("input 1 'dft_length' is {}, expected > 0", *length));

  std::optional<int64_t> axis;
  if (ctx.opset() >= 20) {
    if (ctx.has_input(2)) {
      if (ctx.input_dtype(2) != DataType::kUndefined && ctx.input_dtype(2) != DataType::kInt64) {
        return ctx.error(fmt::format("input 2 'axis' has dtype {}, expected int64", dtype_name(ctx.input_dtype(2))));
      }
      KILN_ASSIGN_OR_RETURN(axis, scalar_int_input(ctx, 2, "axis"));
    } else {
      axis = -2;
    }
  } else {
    if (ctx.has_input(2)) return ctx.error("the axis input needs opset 20 (opset 17 takes an 'axis' attribute)");
    axis = ctx.attrs().get_int("axis", 1);
  }

  const MaybeShape& in = ctx.input_shape(0);
  if (!in) {
    ctx.set_output(0, t, std::nullopt);
    return ok_status();
  }
  const int64_t r = static_cast<int64_t>(in->size());
  if (r < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank >= 2", shape_to_string(in)));
  const Dim last = in->back();
  if (last.is_known() && last.value != 1 && last.value != 2) {
    return ctx.error(fmt::format("input 0 has shape {}, expected last dim 1 (real) or 2 (complex)", shape_to_string(in)));
  }
  SymShape out = *in;
  out.back() = Dim::known(2);
  if (!axis) {
    for (int64_t i = 0; i + 1 < r; ++i) out[static_cast<size_t>(i)] = Dim::unknown();
    ctx.set_output(0, t, out);
    return ok_status();
  }
  const int64_t a = *axis < 0 ? *axis + r : *axis;
  if (a < 0 || a > r - 2) {
    return ctx.error(fmt::format("axis {} is out of range for rank {} (the last dim holds real/imaginary parts)",
                                 *axis, r));
  }
  Dim n = (*in)[static_cast<size_t>(a)];
  if (ctx.has_input(1)) n = length ? Dim::known(*length) : Dim::unknown();
  if (onesided) n = n.is_known() ? Dim::known(n.value / 2 + 1) : Dim::unknown();
  out[static_cast<size_t>(a)] = n;
  ctx.set_output(0, t, out);
  return ok_status();
}

}  // namespace

void register_dft(OpRegistry& r) {
  OpSchema s;
  s.op_type = "DFT";
  s.since_version = 17;
  s.min_inputs = 1;
  s.max_inputs = 3;
  s.infer = infer_dft;
  r.add(std::move(s));
}

}  // namespace kiln
