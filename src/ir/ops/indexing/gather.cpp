// Gather: out = data indexed along `axis` by `indices` (negative indices count from the end).
// Output shape: data.shape[:axis] + indices.shape + data.shape[axis+1:].
#include <cstring>

#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

// Shape arithmetic (Shape -> Gather -> Concat -> Reshape) needs Gather's value at inference
// time; small constant inputs are gathered here.
void fold_gather(InferenceContext& ctx, int64_t axis) {
  const Tensor* data = ctx.input_value(0);
  const Tensor* ind = ctx.input_value(1);
  if (!data || !ind || data->numel() > 4096 || ind->numel() > 4096) return;
  if (!dtype_is_supported(data->dtype()) || data->rank() == 0) return;
  auto idx = read_int64s(*ind);
  if (!idx.ok()) return;
  const Dims& dd = data->shape();
  const int64_t n = dd[static_cast<size_t>(axis)];
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= dd[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < dd.size(); ++i) inner *= dd[i];
  Dims od(dd.begin(), dd.begin() + axis);
  od.insert(od.end(), ind->shape().begin(), ind->shape().end());
  od.insert(od.end(), dd.begin() + axis + 1, dd.end());
  auto out = Tensor::allocate(data->dtype(), od);
  if (!out.ok()) return;
  const size_t es = dtype_size(data->dtype());
  const auto* src = static_cast<const uint8_t*>(data->data());
  auto* dst = static_cast<uint8_t*>(out->data());
  const int64_t k = static_cast<int64_t>(idx->size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = (*idx)[static_cast<size_t>(j)];
      if (v < -n || v >= n) return;  // the kernel reports it
      if (v < 0) v += n;
      std::memcpy(dst + static_cast<size_t>((o * k + j) * inner) * es,
                  src + static_cast<size_t>((o * n + v) * inner) * es, static_cast<size_t>(inner) * es);
    }
  }
  ctx.set_output_value(0, std::move(out).value());
}

Status infer_gather(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_index_dtype(ctx, 1, "indices"));
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& ds = ctx.input_shape(0);
  const MaybeShape& is = ctx.input_shape(1);
  if (!ds) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const int64_t r = static_cast<int64_t>(ds->size());
  if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
  KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.attrs().get_int("axis", 0), r));
  if (!is) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  SymShape out(ds->begin(), ds->begin() + axis);
  out.insert(out.end(), is->begin(), is->end());
  out.insert(out.end(), ds->begin() + axis + 1, ds->end());
  ctx.set_output(0, dt, std::move(out));
  fold_gather(ctx, axis);
  return ok_status();
}

}  // namespace

void register_gather(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Gather";
  s.min_inputs = s.max_inputs = 2;
  s.infer = infer_gather;
  r.add(std::move(s));
}

}  // namespace kiln
