// NonMaxSuppression: selected [num_selected, 3] int64 (batch, class, box); the count depends on
// the data.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_nms(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 0, "boxes"));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 1, "scores"));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 0, "boxes", 3));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 1, "scores", 3));
  if (ctx.input_dtype(2) != DataType::kUndefined && ctx.input_dtype(2) != DataType::kInt64) {
    return ctx.error(fmt::format("input 2 'max_output_boxes_per_class' has dtype {}, expected int64",
                                 dtype_name(ctx.input_dtype(2))));
  }
  const int64_t cpb = ctx.attrs().get_int("center_point_box", 0);
  if (cpb != 0 && cpb != 1) return ctx.error(fmt::format("center_point_box {} must be 0 or 1", cpb));
  if (const MaybeShape& b = ctx.input_shape(0)) {
    if ((*b)[2].is_known() && (*b)[2].value != 4) {
      return ctx.error(fmt::format("input 0 'boxes' has last dim {}, expected 4", (*b)[2].value));
    }
  }
  ctx.set_output(0, DataType::kInt64, SymShape{Dim::unknown(), Dim::known(3)});
  return ok_status();
}

}  // namespace

void register_non_max_suppression(OpRegistry& r) {
  OpSchema s;
  s.op_type = "NonMaxSuppression";
  s.min_inputs = 2;
  s.max_inputs = 5;
  s.infer = infer_nms;
  r.add(std::move(s));
}

}  // namespace kiln
