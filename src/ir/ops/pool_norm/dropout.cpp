// Dropout at inference: the identity, with an all-true mask (bool from opset 10, X's dtype
// before). From opset 12 ratio and training_mode are inputs; training with a nonzero ratio is
// random and unsupported. Old is_test/consumed_inputs attributes are ignored: kiln only infers.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

namespace {

Status check_ratio(const InferenceContext& ctx, double ratio) {
  if (!(ratio >= 0 && ratio < 1)) return ctx.error(fmt::format("ratio is {}, expected a value in [0, 1)", ratio));
  return ok_status();
}

}  // namespace

void register_dropout(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Dropout";
  s.min_inputs = 1;
  s.max_inputs = 3;
  s.min_outputs = 1;
  s.max_outputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
    if (ctx.opset() < 12 && ctx.num_inputs() > 1) {
      return ctx.error(fmt::format("has {} inputs, but takes only 'data' before opset 12", ctx.num_inputs()));
    }
    double ratio = 0.5;
    if (ctx.opset() < 12) {
      ratio = ctx.attrs().get_float("ratio", 0.5f);
      KILN_RETURN_IF_ERROR(check_ratio(ctx, ratio));
    } else {
      KILN_RETURN_IF_ERROR(check_float_input(ctx, 1));
      if (ctx.has_input(1) && ctx.input_shape(1) && !ctx.input_shape(1)->empty()) {
        return ctx.error(fmt::format("input 1 'ratio' has shape {}, expected a scalar", shape_to_string(ctx.input_shape(1))));
      }
      if (ctx.has_input(2)) {
        const DataType t = ctx.input_dtype(2);
        if (t != DataType::kUndefined && t != DataType::kBool) {
          return ctx.error(fmt::format("input 2 'training_mode' has dtype {}, expected bool", dtype_name(t)));
        }
        if (ctx.input_shape(2) && !ctx.input_shape(2)->empty()) {
          return ctx.error(fmt::format("input 2 'training_mode' has shape {}, expected a scalar",
                                       shape_to_string(ctx.input_shape(2))));
        }
      }
      bool ratio_known = !ctx.has_input(1);
      if (const Tensor* rv = ctx.has_input(1) ? ctx.input_value(1) : nullptr) {
        KILN_ASSIGN_OR_RETURN(std::vector<double> v, read_doubles(*rv));
        if (v.size() == 1) {
          ratio = v[0];
          ratio_known = true;
          KILN_RETURN_IF_ERROR(check_ratio(ctx, ratio));
        }
      }
      const Tensor* tv = ctx.has_input(2) ? ctx.input_value(2) : nullptr;
      if (tv != nullptr && tv->numel() == 1 && tv->dtype() == DataType::kBool && *tv->data_as<bool>() &&
          !(ratio_known && ratio == 0)) {
        return ctx.unsupported_error("training_mode is true: random dropout is not supported");
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
    if (ctx.num_outputs() > 1) {
      ctx.set_output(1, ctx.opset() >= 10 ? DataType::kBool : ctx.input_dtype(0), ctx.input_shape(0));
    }
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
