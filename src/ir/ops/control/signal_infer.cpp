#include "ir/ops/control/signal_infer.h"

#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Result<DataType> output_datatype_attr(const InferenceContext& ctx) {
  const int64_t v = ctx.attrs().get_int("output_datatype", 1);
  if (v <= 0 || v > static_cast<int64_t>(DataType::kInt4)) {
    return ctx.error(fmt::format("attribute 'output_datatype' is {}, not an ONNX data type", v));
  }
  const DataType t = static_cast<DataType>(v);
  if (!dtype_is_supported(t)) {
    return ctx.unsupported_error(fmt::format("output_datatype {} is not supported", dtype_name(t)));
  }
  if (!dtype_is_float(t) && !dtype_is_int(t)) {
    return ctx.error(fmt::format("attribute 'output_datatype' is {}, expected a numeric type", dtype_name(t)));
  }
  return t;
}

Result<std::optional<int64_t>> scalar_int_input(const InferenceContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return std::optional<int64_t>{};
  const DataType t = ctx.input_dtype(i);
  if (t != DataType::kUndefined && t != DataType::kInt32 && t != DataType::kInt64) {
    return ctx.error(fmt::format("input {} '{}' has dtype {}, expected int32 or int64", i, name, dtype_name(t)));
  }
  const MaybeShape& s = ctx.input_shape(i);
  if (s && is_static(s) && element_count(static_dims(*s)) != 1) {
    return ctx.error(fmt::format("input {} '{}' has shape {}, expected a scalar", i, name, shape_to_string(s)));
  }
  const Tensor* v = ctx.input_value(i);
  if (!v) return std::optional<int64_t>{};
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> vals, read_int64s(*v));
  if (vals.size() != 1) return ctx.error(fmt::format("input {} '{}' has {} values, expected 1", i, name, vals.size()));
  return std::optional<int64_t>{vals[0]};
}

}  // namespace kiln
