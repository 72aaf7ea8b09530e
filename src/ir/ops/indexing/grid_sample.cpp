// GridSample: X [N, C, D1..Dr] sampled at the normalized grid [N, H1..Hr, r] coordinates;
// output [N, C, H1..Hr]. Opset 16 allows rank 4 and the modes bilinear/bicubic; opset 20 any
// rank and linear/cubic (both spellings are accepted at every opset).
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_grid_sample(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 1, "grid"));
  const std::string mode = ctx.attrs().get_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
  if (mode != "linear" && mode != "bilinear" && mode != "nearest" && mode != "cubic" && mode != "bicubic") {
    return ctx.error(fmt::format("mode '{}' is not one of linear, nearest, cubic", mode));
  }
  const std::string pad = ctx.attrs().get_string("padding_mode", "zeros");
  if (pad != "zeros" && pad != "border" && pad != "reflection") {
    return ctx.error(fmt::format("padding_mode '{}' is not one of zeros, border, reflection", pad));
  }
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& xs = ctx.input_shape(0);
  const MaybeShape& gs = ctx.input_shape(1);
  if (!xs || !gs) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  if (xs->size() < 3) return ctx.error(fmt::format("input 0 'X' has rank {}, expected >= 3", xs->size()));
  if (gs->size() != xs->size()) {
    return ctx.error(fmt::format("input 1 'grid' has rank {}, expected {}", gs->size(), xs->size()));
  }
  const size_t sp = xs->size() - 2;
  if (gs->back().is_known() && gs->back().value != static_cast<int64_t>(sp)) {
    return ctx.error(fmt::format("grid's last dim is {}, expected {}", gs->back().value, sp));
  }
  SymShape out{(*xs)[0], (*xs)[1]};
  out.insert(out.end(), gs->begin() + 1, gs->end() - 1);
  if (!out[0].is_known()) out[0] = (*gs)[0];
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_grid_sample(OpRegistry& r) {
  OpSchema s;
  s.op_type = "GridSample";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_grid_sample;
  r.add(std::move(s));
}

}  // namespace kiln
