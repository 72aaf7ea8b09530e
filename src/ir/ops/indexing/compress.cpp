// Compress: the slices along `axis` (or the elements of the flattened input when axis is absent)
// whose condition is true. The selected count depends on the condition's values.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_compress(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  if (ctx.input_dtype(1) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kBool) {
    return ctx.error(fmt::format("input 1 'condition' has dtype {}, expected bool", dtype_name(ctx.input_dtype(1))));
  }
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 1, "condition", 1));
  const DataType dt = ctx.input_dtype(0);
  Dim count = Dim::unknown();
  if (const Tensor* c = ctx.input_value(1)) {
    int64_t n = 0;
    for (int64_t i = 0; i < c->numel(); ++i) n += c->data_as<bool>()[i] ? 1 : 0;
    count = Dim::known(n);
  }
  const Attribute* ax = ctx.attrs().find("axis");
  if (!ax) {
    ctx.set_output(0, dt, SymShape{count});
    return ok_status();
  }
  const MaybeShape& s = ctx.input_shape(0);
  if (!s) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const int64_t r = static_cast<int64_t>(s->size());
  if (r == 0) return ctx.error("input 0 'input' must have rank >= 1 when axis is given");
  KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ax->i, r));
  SymShape out = *s;
  out[static_cast<size_t>(axis)] = count;
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_compress(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Compress";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_compress;
  r.add(std::move(s));
}

}  // namespace kiln
