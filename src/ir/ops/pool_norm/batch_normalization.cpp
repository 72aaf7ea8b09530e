// BatchNormalization: y = scale * (x - mean) / sqrt(var + epsilon) + B per channel (axis 1).
// Inference mode is the normal case. Training mode (training_mode=1 from opset 14; extra outputs
// before that) normalizes with the batch statistics and outputs the updated running statistics.
// Old attributes (spatial, is_test, consumed_inputs) are accepted; spatial=0 (opsets < 9) takes
// per-element parameters of shape X.shape[1:].
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_batch_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "BatchNormalization";
  s.min_inputs = s.max_inputs = 5;
  s.min_outputs = 1;
  s.max_outputs = 5;
  s.infer = [](InferenceContext& ctx) -> Status {
    for (size_t i = 0; i < 5; ++i) KILN_RETURN_IF_ERROR(check_float_input(ctx, i));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 2));
    const int64_t training = ctx.attrs().get_int("training_mode", 0);
    if (training != 0 && training != 1) {
      return ctx.error(fmt::format("attribute 'training_mode' is {}, expected 0 or 1", training));
    }
    const size_t max_out = ctx.opset() >= 14 ? 3 : 5;
    if (ctx.num_outputs() > max_out) {
      return ctx.error(fmt::format("has {} outputs, at most {} at opset {}", ctx.num_outputs(), max_out, ctx.opset()));
    }
    const MaybeShape& x = ctx.input_shape(0);
    const bool per_element = ctx.opset() < 9 && ctx.attrs().get_int("spatial", 1) == 0;
    Dim c = Dim::unknown();
    if (x) c = (*x)[1];
    if (!per_element) {
      static const char* const kNames[] = {"X", "scale", "B", "mean", "var"};
      for (size_t i = 1; i < 5; ++i) {
        const MaybeShape& p = ctx.input_shape(i);
        if (!p) continue;
        if (p->size() != 1) {
          return ctx.error(fmt::format("input {} '{}' has shape {}, expected a 1-D tensor of the channel count", i,
                                       kNames[i], shape_to_string(p)));
        }
        if (c.is_known() && (*p)[0].is_known() && (*p)[0].value != c.value) {
          return ctx.error(fmt::format("input {} '{}' has {} values, but X has {} channels", i, kNames[i],
                                       (*p)[0].value, c.value));
        }
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), x);
    // Statistics outputs: per channel; their dtype is the mean's (T2) from opset 15, X's before.
    MaybeShape stat_shape = SymShape{c};
    if (per_element) stat_shape = ctx.input_shape(3);
    const DataType stat_dt = ctx.opset() >= 14 ? ctx.input_dtype(3) : ctx.input_dtype(0);
    for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, stat_dt, stat_shape);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
