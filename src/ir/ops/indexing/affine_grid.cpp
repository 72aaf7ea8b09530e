// AffineGrid: theta [N, 2, 3] (or [N, 3, 4]) and size [N, C, H, W] (or [N, C, D, H, W]) give the
// sampling grid [N, H, W, 2] (or [N, D, H, W, 3]) for GridSample.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_affine_grid(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 0, "theta"));
  if (ctx.input_dtype(1) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kInt64) {
    return ctx.error(fmt::format("input 1 'size' has dtype {}, expected int64", dtype_name(ctx.input_dtype(1))));
  }
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 0, "theta", 3));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 1, "size", 1));
  const DataType dt = ctx.input_dtype(0);
  const Tensor* size = ctx.input_value(1);
  if (!size) {
    const MaybeShape& ss = ctx.input_shape(1);
    if (ss && (*ss)[0].is_known()) {
      const int64_t n = (*ss)[0].value;
      if (n != 4 && n != 5) return ctx.error(fmt::format("input 1 'size' has {} values, expected 4 or 5", n));
      ctx.set_output(0, dt, SymShape(static_cast<size_t>(n), Dim::unknown()));
    } else {
      ctx.set_output(0, dt, std::nullopt);
    }
    return ok_status();
  }
  auto v = read_int64s(*size);
  if (!v.ok()) return ctx.error(v.status().message());
  if (v->size() != 4 && v->size() != 5) {
    return ctx.error(fmt::format("input 1 'size' has {} values, expected 4 or 5", v->size()));
  }
  for (int64_t d : *v) {
    if (d < 0) return ctx.error(fmt::format("input 1 'size' has a negative value {}", d));
  }
  SymShape out{Dim::known((*v)[0])};
  for (size_t i = 2; i < v->size(); ++i) out.push_back(Dim::known((*v)[i]));
  out.push_back(Dim::known(static_cast<int64_t>(v->size()) - 2));
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_affine_grid(OpRegistry& r) {
  OpSchema s;
  s.op_type = "AffineGrid";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_affine_grid;
  r.add(std::move(s));
}

}  // namespace kiln
