// GatherElements: out[i..] = data[i.. with axis replaced by indices[i..]]; out has indices' shape.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_gather_elements(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_index_dtype(ctx, 1, "indices"));
  const MaybeShape& ds = ctx.input_shape(0);
  const MaybeShape& is = ctx.input_shape(1);
  if (ds && is && ds->size() != is->size()) {
    return ctx.error(fmt::format("input 1 'indices' has rank {}, expected the rank of data ({})", is->size(),
                                 ds->size()));
  }
  const MaybeShape& known = ds ? ds : is;
  if (known) {
    const int64_t r = static_cast<int64_t>(known->size());
    if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
    KILN_RETURN_IF_ERROR(normalize_axis(ctx, ctx.attrs().get_int("axis", 0), r).status());
  }
  ctx.set_output(0, ctx.input_dtype(0), is);
  return ok_status();
}

}  // namespace

void register_gather_elements(OpRegistry& r) {
  OpSchema s;
  s.op_type = "GatherElements";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_gather_elements;
  r.add(std::move(s));
}

}  // namespace kiln
