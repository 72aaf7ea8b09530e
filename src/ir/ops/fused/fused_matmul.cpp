// kiln.FusedMatMul: Y = post_activation(activation(alpha * op(A) @ op(B) + bias) + Z), where op
// transposes the last two dims when trans_a / trans_b is 1 and @ is MatMul (batch broadcasting,
// 1-D operands as MatMul treats them); bias and Z broadcast to the product without enlarging it.
#include <utility>

#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

namespace {

// Reads trans_a / trans_b (0 or 1).
Result<bool> read_trans(const InferenceContext& ctx, const char* name) {
  const int64_t v = ctx.attrs().get_int(name, 0);
  if (v != 0 && v != 1) return ctx.error(fmt::format("attribute '{}' is {}, expected 0 or 1", name, v));
  return v == 1;
}

// The operand's shape as the product sees it: the last two dims swapped when transposed.
Result<MaybeShape> operand_shape(const InferenceContext& ctx, size_t i, const char* name, bool trans) {
  MaybeShape s = ctx.input_shape(i);
  if (!s || !trans) return s;
  if (s->size() < 2) {
    return ctx.error(fmt::format("input {} '{}' has shape {}, but trans_{} needs rank >= 2", i, name,
                                 shape_to_string(s), i == 0 ? 'a' : 'b'));
  }
  std::swap((*s)[s->size() - 1], (*s)[s->size() - 2]);
  return s;
}

}  // namespace

void register_fused_matmul(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "FusedMatMul";
  s.since_version = 1;
  s.min_inputs = 2;
  s.max_inputs = 4;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"A", "B", "bias", "Z"}));
    KILN_ASSIGN_OR_RETURN(const bool trans_a, read_trans(ctx, "trans_a"));
    KILN_ASSIGN_OR_RETURN(const bool trans_b, read_trans(ctx, "trans_b"));
    if (const Attribute* alpha = ctx.attrs().find("alpha"); alpha && alpha->kind != Attribute::Kind::kFloat) {
      return ctx.error(fmt::format("attribute 'alpha' is {} (expected {})", attribute_kind_name(alpha->kind),
                                   attribute_kind_name(Attribute::Kind::kFloat)));
    }
    KILN_RETURN_IF_ERROR(check_activation_attrs(ctx));
    KILN_ASSIGN_OR_RETURN(MaybeShape sa, operand_shape(ctx, 0, "A", trans_a));
    KILN_ASSIGN_OR_RETURN(MaybeShape sb, operand_shape(ctx, 1, "B", trans_b));
    KILN_ASSIGN_OR_RETURN(MaybeShape out, infer_matmul_shape(ctx, sa, sb));
    if (ctx.has_input(2)) KILN_RETURN_IF_ERROR(check_broadcasts_into(ctx, ctx.input_shape(2), out, "input 2 'bias'"));
    if (ctx.has_input(3)) KILN_RETURN_IF_ERROR(check_broadcasts_into(ctx, ctx.input_shape(3), out, "input 3 'Z'"));
    ctx.set_output(0, ctx.input_dtype(0), std::move(out));
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
