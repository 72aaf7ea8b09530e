#include "fmt/format.h"
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

bool accepts(ElementTypes types, DataType t) {
  const bool is_float = dtype_is_float(t) && dtype_is_supported(t);
  switch (types) {
    case ElementTypes::kFloat:
      return is_float;
    case ElementTypes::kNumeric:
      return is_float || dtype_is_int(t);
    case ElementTypes::kSignedNumeric:
      return is_float || dtype_is_signed_int(t);
    case ElementTypes::kInt:
      return dtype_is_int(t);
    case ElementTypes::kBool:
      return t == DataType::kBool;
  }
  return false;
}

const char* describe(ElementTypes types) {
  switch (types) {
    case ElementTypes::kFloat:
      return "a float type";
    case ElementTypes::kNumeric:
      return "a numeric type";
    case ElementTypes::kSignedNumeric:
      return "a float or signed integer type";
    case ElementTypes::kInt:
      return "an integer type";
    case ElementTypes::kBool:
      return "bool";
  }
  return "?";
}

}  // namespace

Status check_element_type(const InferenceContext& ctx, size_t in, ElementTypes types) {
  if (!ctx.has_input(in)) return ok_status();
  const DataType t = ctx.input_dtype(in);
  if (t == DataType::kUndefined || accepts(types, t)) return ok_status();
  const std::string msg =
      fmt::format("input {} has dtype {}, expected {}", in, dtype_name(t), describe(types));
  // float8/int4/string/complex are valid ONNX for some ops but are not kiln tensors.
  if (!dtype_is_supported(t)) return ctx.unsupported_error(msg);
  return ctx.error(msg);
}

Status check_required_inputs(const InferenceContext& ctx, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is required but missing", i));
  }
  return check_inputs_defined(ctx);
}

}  // namespace kiln
