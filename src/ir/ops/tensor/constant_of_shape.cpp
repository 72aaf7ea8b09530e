// ConstantOfShape: a tensor of the shape in input 0 filled with 'value' (default float32 0).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Result<Tensor> constant_of_shape_fill(const Attributes& attrs) {
  const Attribute* a = attrs.find("value");
  if (!a) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(DataType::kFloat32, {}));
    return t;
  }
  if (a->kind != Attribute::Kind::kTensor) return invalid_argument("attribute 'value' is not a tensor");
  if (!dtype_is_supported(a->t.dtype())) {
    return unsupported(fmt::format("'value' of dtype {}", dtype_name(a->t.dtype())));
  }
  if (a->t.numel() != 1) {
    return invalid_argument(fmt::format("attribute 'value' must hold one element, has {}", a->t.numel()));
  }
  return a->t;
}

void register_constant_of_shape(OpRegistry& r) {
  OpSchema s;
  s.op_type = "ConstantOfShape";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    auto fill = constant_of_shape_fill(ctx.attrs());
    if (!fill.ok()) {
      if (fill.status().code() == StatusCode::kUnsupported) return ctx.unsupported_error(fill.status().message());
      return ctx.error(fill.status().message());
    }
    const DataType dt = fill->dtype();
    KILN_ASSIGN_OR_RETURN(IntsOperand op, ints_operand(ctx, 0, "input"));
    if (!op.known && op.elems) {
      KILN_ASSIGN_OR_RETURN(SymShape shape, shape_from_elems(ctx, *op.elems, 0));
      ctx.set_output(0, dt, shape);
      return ok_status();
    }
    if (!op.known) {
      ctx.set_output(0, dt, op.length ? MaybeShape(unknown_dims(static_cast<size_t>(*op.length))) : std::nullopt);
      return ok_status();
    }
    for (int64_t v : op.values) {
      if (v < 0) return ctx.error(fmt::format("input 0 has a negative dim {}", v));
    }
    ctx.set_output(0, dt, sym_shape(op.values));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
