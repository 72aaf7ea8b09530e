// LayerNormalization (opset 17): normalize over axes [axis, rank), then y = normalized * Scale + B
// (Scale and B broadcast unidirectionally to X). Optional outputs Mean and InvStdDev have shape
// X.shape[:axis] + [1]*(rank-axis) and the dtype named by stash_type (float32 by default).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

namespace {

// Each dim of p (aligned right) must be 1 or equal to x's.
Status check_unidirectional(const InferenceContext& ctx, size_t i, const SymShape& x, const SymShape& p) {
  bool ok = p.size() <= x.size();
  for (size_t k = 0; ok && k < p.size(); ++k) {
    const Dim& pd = p[p.size() - 1 - k];
    const Dim& xd = x[x.size() - 1 - k];
    if (pd.is_known() && xd.is_known() && pd.value != 1 && pd.value != xd.value) ok = false;
  }
  if (!ok) {
    return ctx.error(fmt::format("input {} has shape {}, which does not broadcast to input 0's shape {}", i,
                                 shape_to_string(p), shape_to_string(x)));
  }
  return ok_status();
}

}  // namespace

void register_layer_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "LayerNormalization";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.min_outputs = 1;
  s.max_outputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    for (size_t i = 0; i < 3; ++i) KILN_RETURN_IF_ERROR(check_float_input(ctx, i));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 1));
    const int64_t stash = ctx.attrs().get_int("stash_type", 1);
    const DataType stash_dt = static_cast<DataType>(stash);
    if (stash_dt != DataType::kFloat32 && stash_dt != DataType::kFloat64 && stash_dt != DataType::kFloat16 &&
        stash_dt != DataType::kBFloat16) {
      return ctx.error(fmt::format("attribute 'stash_type' is {}, expected a float dtype code", stash));
    }
    const MaybeShape& x = ctx.input_shape(0);
    ctx.set_output(0, ctx.input_dtype(0), x);
    MaybeShape stat;
    if (x) {
      const int64_t rank = static_cast<int64_t>(x->size());
      KILN_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs().get_int("axis", -1), rank));
      for (size_t i = 1; i < 3; ++i) {
        if (ctx.has_input(i) && ctx.input_shape(i)) {
          KILN_RETURN_IF_ERROR(check_unidirectional(ctx, i, *x, *ctx.input_shape(i)));
        }
      }
      SymShape st(x->begin(), x->begin() + axis);
      st.resize(x->size(), Dim::known(1));
      stat = st;
    }
    for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, stash_dt, stat);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
