// Cast (to = attribute) and CastLike (to = input 1's dtype): same shape, new dtype. Every
// conversion between kiln dtypes is supported, float8 and int4/uint4 included; string and complex
// are not kiln tensors and are reported as unsupported. 'saturate' (opset 19+) only affects
// float8 results.
#include "fmt/format.h"
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

bool is_onnx_dtype(int64_t v) { return v >= 1 && v <= static_cast<int64_t>(DataType::kInt4); }

Status check_target(const InferenceContext& ctx, DataType to, const char* what) {
  if (!dtype_is_supported(to)) {
    return ctx.unsupported_error(
        fmt::format("cast to {} ({}) is not supported", dtype_name(to), what));
  }
  return ok_status();
}

}  // namespace

void register_cast(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Cast";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_ASSIGN_OR_RETURN(int64_t to, ctx.attrs().require_int("to"));
    if (!is_onnx_dtype(to))
      return ctx.error(fmt::format("attribute 'to' is {}, not an ONNX data type", to));
    const DataType t = static_cast<DataType>(to);
    KILN_RETURN_IF_ERROR(check_target(ctx, t, "attribute 'to'"));
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
    ctx.set_output(0, t, ctx.input_shape(0));
    return ok_status();
  };
  r.add(std::move(s));
}

void register_cast_like(OpRegistry& r) {
  OpSchema s;
  s.op_type = "CastLike";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 2));
    const DataType t = ctx.input_dtype(1);
    if (t != DataType::kUndefined)
      KILN_RETURN_IF_ERROR(check_target(ctx, t, "input 1 'target_type'"));
    ctx.set_output(0, t, ctx.input_shape(0));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
