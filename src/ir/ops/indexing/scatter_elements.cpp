// ScatterElements (and Scatter, its name before opset 11): a copy of data with
// updates written (or combined by `reduction`) at the positions indices give along `axis`.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_scatter_elements(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_index_dtype(ctx, 1, "indices"));
  KILN_RETURN_IF_ERROR(indexing::check_reduction(ctx));
  const MaybeShape& ds = ctx.input_shape(0);
  const MaybeShape& is = ctx.input_shape(1);
  const MaybeShape& us = ctx.input_shape(2);
  if (ds && is && ds->size() != is->size()) {
    return ctx.error(fmt::format("input 1 'indices' has rank {}, expected the rank of data ({})", is->size(), ds->size()));
  }
  if (is && us && is->size() != us->size()) {
    return ctx.error(fmt::format("input 2 'updates' has rank {}, expected the rank of indices ({})", us->size(), is->size()));
  }
  if (ds) {
    if (ds->empty()) return ctx.error("input 0 'data' must have rank >= 1");
    KILN_RETURN_IF_ERROR(normalize_axis(ctx, ctx.attrs().get_int("axis", 0), static_cast<int64_t>(ds->size())).status());
  }
  if (ctx.has_input(2) && ctx.input_dtype(2) != DataType::kUndefined && ctx.input_dtype(0) != DataType::kUndefined &&
      ctx.input_dtype(2) != ctx.input_dtype(0)) {
    return ctx.error(fmt::format("input 2 'updates' has dtype {}, expected {} like data", dtype_name(ctx.input_dtype(2)),
                                 dtype_name(ctx.input_dtype(0))));
  }
  return same_as_input(ctx);
}

}  // namespace

void register_scatter_elements(OpRegistry& r) {
  for (const char* name : {"ScatterElements", "Scatter"}) {
    OpSchema s;
    s.op_type = name;
    s.min_inputs = s.max_inputs = 3;
    s.infer = infer_scatter_elements;
    r.add(std::move(s));
  }
}

}  // namespace kiln
