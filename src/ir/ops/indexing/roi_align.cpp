// RoiAlign: X [N, C, H, W], rois [R, 4], batch_indices [R] -> [R, C, output_height, output_width].
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_roi_align(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 0, "X"));
  KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, 1, "rois"));
  KILN_RETURN_IF_ERROR(indexing::check_index_dtype(ctx, 2, "batch_indices"));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 0, "X", 4));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 1, "rois", 2));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 2, "batch_indices", 1));
  const std::string mode = ctx.attrs().get_string("mode", "avg");
  if (mode != "avg" && mode != "max") return ctx.error(fmt::format("mode '{}' is not avg or max", mode));
  const std::string ctm = ctx.attrs().get_string("coordinate_transformation_mode",
                                                 ctx.opset() >= 16 ? "half_pixel" : "output_half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel") {
    return ctx.error(fmt::format("coordinate_transformation_mode '{}' is not half_pixel or output_half_pixel", ctm));
  }
  const int64_t oh = ctx.attrs().get_int("output_height", 1);
  const int64_t ow = ctx.attrs().get_int("output_width", 1);
  if (oh < 1 || ow < 1) return ctx.error(fmt::format("output size {}x{} must be positive", oh, ow));
  if (ctx.attrs().get_int("sampling_ratio", 0) < 0) return ctx.error("sampling_ratio must be >= 0");
  Dim rois = Dim::unknown();
  if (const MaybeShape& s = ctx.input_shape(1)) rois = (*s)[0];
  if (!rois.is_known()) {
    if (const MaybeShape& s = ctx.input_shape(2)) rois = (*s)[0];
  }
  Dim c = Dim::unknown();
  if (const MaybeShape& s = ctx.input_shape(0)) c = (*s)[1];
  ctx.set_output(0, ctx.input_dtype(0), SymShape{rois, c, Dim::known(oh), Dim::known(ow)});
  return ok_status();
}

}  // namespace

void register_roi_align(OpRegistry& r) {
  OpSchema s;
  s.op_type = "RoiAlign";
  s.min_inputs = s.max_inputs = 3;
  s.infer = infer_roi_align;
  r.add(std::move(s));
}

}  // namespace kiln
