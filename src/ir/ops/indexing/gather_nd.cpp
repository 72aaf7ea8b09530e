// GatherND: indices' last dim k indexes the first k dims of data after `batch_dims` shared
// leading dims. Output shape: indices.shape[:-1] + data.shape[batch_dims + k:].
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_gather_nd(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  if (ctx.has_input(1) && ctx.input_dtype(1) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kInt64) {
    return ctx.error(fmt::format("input 1 'indices' has dtype {}, expected int64", dtype_name(ctx.input_dtype(1))));
  }
  const int64_t b = ctx.attrs().get_int("batch_dims", 0);
  if (b < 0) return ctx.error(fmt::format("batch_dims {} must be >= 0", b));
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& ds = ctx.input_shape(0);
  const MaybeShape& is = ctx.input_shape(1);
  if (!ds || !is) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const int64_t r = static_cast<int64_t>(ds->size());
  const int64_t q = static_cast<int64_t>(is->size());
  if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
  if (b >= std::min(r, q)) return ctx.error(fmt::format("batch_dims {} must be less than the ranks of data ({}) and indices ({})", b, r, q));
  const Dim& kd = is->back();
  if (!kd.is_known()) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const int64_t k = kd.value;
  if (k < 1 || k > r - b) return ctx.error(fmt::format("indices' last dim {} must be in [1, {}]", k, r - b));
  for (int64_t i = 0; i < b; ++i) {
    const Dim& a = (*ds)[static_cast<size_t>(i)];
    const Dim& c = (*is)[static_cast<size_t>(i)];
    if (a.is_known() && c.is_known() && a.value != c.value) {
      return ctx.error(fmt::format("batch dim {} differs: data has {}, indices has {}", i, a.value, c.value));
    }
  }
  SymShape out(is->begin(), is->end() - 1);
  out.insert(out.end(), ds->begin() + b + k, ds->end());
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_gather_nd(OpRegistry& r) {
  OpSchema s;
  s.op_type = "GatherND";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_gather_nd;
  r.add(std::move(s));
}

}  // namespace kiln
