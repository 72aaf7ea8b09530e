// ScatterND: a copy of data with update slices written (or combined by `reduction`) at the
// index tuples in indices' last dim.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_scatter_nd(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  if (ctx.input_dtype(1) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kInt64) {
    return ctx.error(fmt::format("input 1 'indices' has dtype {}, expected int64", dtype_name(ctx.input_dtype(1))));
  }
  KILN_RETURN_IF_ERROR(indexing::check_reduction(ctx));
  const MaybeShape& ds = ctx.input_shape(0);
  const MaybeShape& is = ctx.input_shape(1);
  const MaybeShape& us = ctx.input_shape(2);
  if (ds && ds->empty()) return ctx.error("input 0 'data' must have rank >= 1");
  if (is && is->empty()) return ctx.error("input 1 'indices' must have rank >= 1");
  if (ds && is && us && is->back().is_known()) {
    const int64_t k = is->back().value;
    const size_t r = ds->size(), q = is->size();
    if (k < 1 || static_cast<size_t>(k) > r) return ctx.error(fmt::format("indices' last dim {} must be in [1, {}]", k, r));
    const size_t expect = q - 1 + r - static_cast<size_t>(k);
    if (us->size() != expect) {
      return ctx.error(fmt::format("input 2 'updates' has rank {}, expected {}", us->size(), expect));
    }
  }
  return same_as_input(ctx);
}

}  // namespace

void register_scatter_nd(OpRegistry& r) {
  OpSchema s;
  s.op_type = "ScatterND";
  s.min_inputs = s.max_inputs = 3;
  s.infer = infer_scatter_nd;
  r.add(std::move(s));
}

}  // namespace kiln
