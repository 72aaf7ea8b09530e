#include "ir/ops/pool_norm/pool_norm_infer.h"

#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_geometry.h"

namespace kiln {

Status check_float_input(const InferenceContext& ctx, size_t i, bool allow_int8) {
  if (!ctx.has_input(i)) return ok_status();
  const DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined) return ok_status();
  if (!dtype_is_supported(t)) {
    return ctx.unsupported_error(fmt::format("input {} has dtype {}", i, dtype_name(t)));
  }
  if (dtype_is_float(t)) return ok_status();
  if (allow_int8 && (t == DataType::kInt8 || t == DataType::kUInt8)) return ok_status();
  return ctx.error(fmt::format("input {} has dtype {}, expected {}", i, dtype_name(t),
                               allow_int8 ? "a float type, int8 or uint8" : "a float type"));
}

Status check_min_rank(const InferenceContext& ctx, size_t i, size_t min_rank) {
  if (!ctx.has_input(i) || !ctx.input_shape(i)) return ok_status();
  const size_t r = ctx.input_shape(i)->size();
  if (r < min_rank) {
    return ctx.error(fmt::format("input {} has rank {} (shape {}), expected at least {}", i, r,
                                 shape_to_string(ctx.input_shape(i)), min_rank));
  }
  return ok_status();
}

Status infer_pool(InferenceContext& ctx, bool allow_int8) {
  KILN_RETURN_IF_ERROR(check_float_input(ctx, 0, allow_int8));
  KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 3));
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& in = ctx.input_shape(0);
  MaybeShape out;
  if (in) {
    std::vector<int64_t> spatial;
    for (size_t i = 2; i < in->size(); ++i) spatial.push_back((*in)[i].value);
    auto g = pool_geometry(ctx.attrs(), spatial);
    if (!g.ok()) return ctx.error(g.status().message());
    SymShape s = {(*in)[0], (*in)[1]};
    for (int64_t o : g->out) s.push_back(o >= 0 ? Dim::known(o) : Dim::unknown());
    out = s;
  } else {
    // Without the input's rank, kernel_shape still tells the number of spatial axes.
    const std::vector<int64_t> k = ctx.attrs().get_ints("kernel_shape");
    if (!k.empty()) out = SymShape(k.size() + 2, Dim::unknown());
  }
  ctx.set_output(0, dt, out);
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
  return ok_status();
}

}  // namespace kiln
