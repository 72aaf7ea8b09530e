// Unique: the distinct elements (or slices along `axis`), sorted or in order of first
// occurrence, with first indices, inverse indices and counts. Counts depend on data.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_unique(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& s = ctx.input_shape(0);
  const Attribute* ax = ctx.attrs().find("axis");
  SymShape unknown1{Dim::unknown()};
  if (!ax) {
    ctx.set_output(0, dt, unknown1);
    Dim total = Dim::known(1);
    if (s) {
      for (const Dim& d : *s) total = mul_dims(total, d);
    } else {
      total = Dim::unknown();
    }
    ctx.set_output(2, DataType::kInt64, SymShape{total});
  } else if (s) {
    const int64_t r = static_cast<int64_t>(s->size());
    if (r == 0) return ctx.error("input 0 'X' must have rank >= 1 when axis is given");
    KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ax->i, r));
    SymShape out = *s;
    out[static_cast<size_t>(axis)] = Dim::unknown();
    ctx.set_output(0, dt, std::move(out));
    ctx.set_output(2, DataType::kInt64, SymShape{(*s)[static_cast<size_t>(axis)]});
  } else {
    ctx.set_output(0, dt, std::nullopt);
    ctx.set_output(2, DataType::kInt64, unknown1);
  }
  ctx.set_output(1, DataType::kInt64, unknown1);
  ctx.set_output(3, DataType::kInt64, unknown1);
  return ok_status();
}

}  // namespace

void register_unique(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Unique";
  s.min_inputs = s.max_inputs = 1;
  s.min_outputs = 1;
  s.max_outputs = 4;
  s.infer = infer_unique;
  r.add(std::move(s));
}

}  // namespace kiln
