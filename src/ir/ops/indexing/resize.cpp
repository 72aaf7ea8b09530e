// Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9; the old form of Resize). One schema
// each covers all versions: the inputs that carry roi / scales / sizes move with the opset
// (resize_input_slots) and the geometry is computed by resize_util.h, shared with the kernel.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"
#include "ir/ops/indexing/resize_util.h"

namespace kiln {
namespace {

// An input's known shape says it is empty (an omitted roi/scales is often a [0] tensor).
bool known_empty(const InferenceContext& ctx, int slot) {
  if (slot < 0 || !ctx.has_input(static_cast<size_t>(slot))) return true;
  const MaybeShape& s = ctx.input_shape(static_cast<size_t>(slot));
  if (!s) return false;
  for (const Dim& d : *s) {
    if (d.is_known() && d.value == 0) return true;
  }
  return false;
}

Status infer_resize(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const std::string& op = ctx.node().op_type;
  const int opset = ctx.opset();
  auto info_r = indexing::resize_attributes(ctx.attrs(), op, opset);
  if (!info_r.ok()) return ctx.error(info_r.status().message());
  indexing::ResizeInfo info = std::move(info_r).value();
  const indexing::ResizeInputSlots slots = indexing::resize_input_slots(op, opset);
  if (slots.sizes >= 0) KILN_RETURN_IF_ERROR(indexing::check_index_dtype(ctx, static_cast<size_t>(slots.sizes), "sizes"));
  if (slots.scales >= 0) KILN_RETURN_IF_ERROR(indexing::check_float_dtype(ctx, static_cast<size_t>(slots.scales), "scales"));
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& xs = ctx.input_shape(0);
  if (!xs) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const size_t r = xs->size();
  SymShape all_unknown(r, Dim::unknown());

  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<double> roi;
  if (slots.scales < 0) {
    scales = ctx.attrs().get_floats("scales");
    if (scales.empty()) return ctx.error("attribute 'scales' is required");
  } else if (!known_empty(ctx, slots.scales)) {
    const Tensor* t = ctx.input_value(static_cast<size_t>(slots.scales));
    if (!t) {
      ctx.set_output(0, dt, all_unknown);
      return ok_status();
    }
    KILN_ASSIGN_OR_RETURN(auto v, read_doubles(*t));
    for (double d : v) scales.push_back(static_cast<float>(d));
  }
  if (slots.sizes >= 0 && !known_empty(ctx, slots.sizes)) {
    const Tensor* t = ctx.input_value(static_cast<size_t>(slots.sizes));
    if (!t) {
      ctx.set_output(0, dt, all_unknown);
      return ok_status();
    }
    auto v = read_int64s(*t);
    if (!v.ok()) return ctx.error(v.status().message());
    sizes = std::move(v).value();
  }
  if (slots.roi >= 0 && info.coord == "tf_crop_and_resize" && !known_empty(ctx, slots.roi)) {
    if (const Tensor* t = ctx.input_value(static_cast<size_t>(slots.roi))) {
      KILN_ASSIGN_OR_RETURN(roi, read_doubles(*t));
    }
  }
  if (!scales.empty() && !sizes.empty()) return ctx.error("only one of 'scales' and 'sizes' may be given");
  std::vector<int64_t> in(r);
  for (size_t i = 0; i < r; ++i) in[i] = (*xs)[i].is_known() ? (*xs)[i].value : -1;
  Status st = indexing::resize_geometry(info, ctx.attrs(), opset, op, in, scales, sizes, roi);
  if (!st.ok()) return ctx.error(st.message());
  SymShape out(r);
  for (size_t i = 0; i < r; ++i) {
    const indexing::ResizeAxis& ax = info.axes[i];
    if (!ax.active || (ax.in < 0 && !scales.empty() && ax.scale == 1.0)) {
      out[i] = (*xs)[i];
    } else {
      out[i] = ax.out >= 0 ? Dim::known(ax.out) : Dim::unknown();
    }
  }
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_resize(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Resize";
  s.min_inputs = 1;
  s.max_inputs = 4;
  s.infer = infer_resize;
  r.add(s);
  s.op_type = "Upsample";
  s.max_inputs = 2;
  r.add(std::move(s));
}

}  // namespace kiln
