// Constant: a tensor from its attributes. Inference sets the output's value; the kernel copies
// the tensor into its output. Strings and sparse tensors are not kiln tensors.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Result<Tensor> constant_tensor(const Attributes& attrs) {
  int count = 0;
  for (const char* name : {"value", "value_float", "value_floats", "value_int", "value_ints", "value_string",
                           "value_strings", "sparse_value"}) {
    count += attrs.has(name) ? 1 : 0;
  }
  if (count != 1) return invalid_argument(fmt::format("expected exactly one value attribute, got {}", count));
  if (attrs.has("value_string") || attrs.has("value_strings")) return unsupported("string constants");
  if (attrs.has("sparse_value")) return unsupported("sparse constants");
  if (const Attribute* a = attrs.find("value")) {
    if (a->kind != Attribute::Kind::kTensor) return invalid_argument("attribute 'value' is not a tensor");
    if (!dtype_is_supported(a->t.dtype())) {
      return unsupported(fmt::format("constants of dtype {}", dtype_name(a->t.dtype())));
    }
    return a->t;
  }
  if (const Attribute* a = attrs.find("value_float")) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kFloat32, {}));
    *t.data_as<float>() = a->f;
    return t;
  }
  if (const Attribute* a = attrs.find("value_int")) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kInt64, {}));
    *t.data_as<int64_t>() = a->i;
    return t;
  }
  if (const Attribute* a = attrs.find("value_floats")) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kFloat32, {static_cast<int64_t>(a->floats.size())}));
    for (size_t i = 0; i < a->floats.size(); ++i) t.data_as<float>()[i] = a->floats[i];
    return t;
  }
  const Attribute* a = attrs.find("value_ints");
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kInt64, {static_cast<int64_t>(a->ints.size())}));
  for (size_t i = 0; i < a->ints.size(); ++i) t.data_as<int64_t>()[i] = a->ints[i];
  return t;
}

void register_constant(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Constant";
  s.min_inputs = s.max_inputs = 0;
  s.infer = [](InferenceContext& ctx) -> Status {
    auto t = constant_tensor(ctx.attrs());
    if (!t.ok()) {
      if (t.status().code() == StatusCode::kUnsupported) return ctx.unsupported_error(t.status().message());
      return ctx.error(t.status().message());
    }
    ctx.set_output_value(0, std::move(t).value());
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
