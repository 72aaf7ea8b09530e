#include "ir/ops/fused/fused_util.h"

#include <utility>

#include "fmt/format.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

namespace {

// An attribute that is present must have the expected kind (get_* would silently take the default).
Status check_kind(const Attributes& attrs, const std::string& name, Attribute::Kind kind) {
  const Attribute* a = attrs.find(name);
  if (a && a->kind != kind) {
    return invalid_argument(fmt::format("attribute '{}' is {} (expected {})", name, attribute_kind_name(a->kind),
                                        attribute_kind_name(kind)));
  }
  return ok_status();
}

// The pointwise ops that are not activations (activation names are read by parse_activation).
constexpr std::pair<PointwiseKind, const char*> kPointwiseOps[] = {
    {PointwiseKind::kExp, "Exp"},     {PointwiseKind::kLog, "Log"},   {PointwiseKind::kSqrt, "Sqrt"},
    {PointwiseKind::kNeg, "Neg"},     {PointwiseKind::kAbs, "Abs"},   {PointwiseKind::kErf, "Erf"},
    {PointwiseKind::kReciprocal, "Reciprocal"},                       {PointwiseKind::kFloor, "Floor"},
    {PointwiseKind::kCeil, "Ceil"},   {PointwiseKind::kAdd, "Add"},   {PointwiseKind::kSub, "Sub"},
    {PointwiseKind::kMul, "Mul"},     {PointwiseKind::kDiv, "Div"},   {PointwiseKind::kPow, "Pow"},
    {PointwiseKind::kMax, "Max"},     {PointwiseKind::kMin, "Min"},
};

std::string pointwise_op_names() {
  std::string out;
  for (const auto& [k, n] : kPointwiseOps) out += std::string(out.empty() ? "" : ", ") + n;
  return out + ", " + activation_names();
}

}  // namespace

Result<ActivationAttr> read_activation_attr(const Attributes& attrs, const std::string& name) {
  const std::string alpha_name = name + "_alpha", beta_name = name + "_beta";
  KILN_RETURN_IF_ERROR(check_kind(attrs, name, Attribute::Kind::kString));
  KILN_RETURN_IF_ERROR(check_kind(attrs, alpha_name, Attribute::Kind::kFloat));
  KILN_RETURN_IF_ERROR(check_kind(attrs, beta_name, Attribute::Kind::kFloat));
  auto kind = parse_activation(attrs.get_string(name, ""));
  if (!kind.ok()) return invalid_argument(fmt::format("attribute '{}': {}", name, kind.status().message()));
  const ActivationParams def = default_activation_params(*kind);
  ActivationAttr a;
  a.kind = *kind;
  a.alpha = attrs.get_float(alpha_name, def.alpha);
  a.beta = attrs.get_float(beta_name, def.beta);
  return a;
}

Status check_activation_attrs(const InferenceContext& ctx) {
  for (const char* name : {"activation", "post_activation"}) {
    auto act = read_activation_attr(ctx.attrs(), name);
    if (!act.ok()) return ctx.error(act.status().message());
  }
  return ok_status();
}

Result<std::vector<PointwiseStep>> read_pointwise_steps(const Attributes& attrs, size_t num_inputs) {
  const Attribute* ops = attrs.find("ops");
  if (!ops) return invalid_argument("missing required attribute 'ops'");
  KILN_RETURN_IF_ERROR(check_kind(attrs, "ops", Attribute::Kind::kStrings));
  KILN_RETURN_IF_ERROR(check_kind(attrs, "operands", Attribute::Kind::kInts));
  KILN_RETURN_IF_ERROR(check_kind(attrs, "swapped", Attribute::Kind::kInts));
  KILN_RETURN_IF_ERROR(check_kind(attrs, "alphas", Attribute::Kind::kFloats));
  KILN_RETURN_IF_ERROR(check_kind(attrs, "betas", Attribute::Kind::kFloats));
  const size_t n = ops->strings.size();
  if (n == 0) return invalid_argument("attribute 'ops' is empty (expected at least one step)");
  // The per-step lists are optional (all zeros when absent) but, when given, have one entry per step.
  const std::vector<int64_t> operands = attrs.get_ints("operands", std::vector<int64_t>(n, 0));
  const std::vector<int64_t> swapped = attrs.get_ints("swapped", std::vector<int64_t>(n, 0));
  const std::vector<float> alphas = attrs.get_floats("alphas", std::vector<float>(n, 0.0f));
  const std::vector<float> betas = attrs.get_floats("betas", std::vector<float>(n, 0.0f));
  const std::pair<const char*, size_t> lengths[] = {
      {"operands", operands.size()}, {"swapped", swapped.size()}, {"alphas", alphas.size()}, {"betas", betas.size()}};
  for (const auto& [name, len] : lengths) {
    if (len != n) {
      return invalid_argument(
          fmt::format("attribute '{}' has {} entries, expected {} (one per entry of 'ops')", name, len, n));
    }
  }
  std::vector<PointwiseStep> steps(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& op = ops->strings[i];
    PointwiseStep& s = steps[i];
    bool found = false;
    for (const auto& [k, name] : kPointwiseOps) {
      if (op == name) {
        s.kind = k;
        found = true;
      }
    }
    if (!found) {
      auto act = parse_activation(op);
      if (op.empty() || !act.ok()) {
        return invalid_argument(fmt::format("attribute 'ops': step {} is '{}', expected one of: {}", i, op,
                                            pointwise_op_names()));
      }
      s.kind = PointwiseKind::kActivation;
      s.activation = *act;
    }
    s.alpha = alphas[i];
    s.beta = betas[i];
    if (swapped[i] != 0 && swapped[i] != 1) {
      return invalid_argument(fmt::format("attribute 'swapped': step {} ('{}') is {}, expected 0 or 1", i, op, swapped[i]));
    }
    s.swapped = swapped[i] == 1;
    if (s.binary()) {
      if (operands[i] < 1 || static_cast<size_t>(operands[i]) >= num_inputs) {
        return invalid_argument(fmt::format(
            "attribute 'operands': step {} ('{}') takes input {}, which is not one of the operand inputs {}", i, op,
            operands[i], num_inputs > 1 ? fmt::format("1..{}", num_inputs - 1) : std::string("(the node has none)")));
      }
      s.operand = static_cast<size_t>(operands[i]);
    } else {
      if (operands[i] != 0) {
        return invalid_argument(
            fmt::format("attribute 'operands': step {} ('{}') is unary, so its operand must be 0, not {}", i, op,
                        operands[i]));
      }
      if (s.swapped) {
        return invalid_argument(fmt::format("attribute 'swapped': step {} ('{}') is unary, so it must be 0", i, op));
      }
    }
  }
  return steps;
}

Status check_float_inputs(const InferenceContext& ctx, const std::vector<std::string>& names) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const std::string name = i < names.size() ? names[i] : fmt::format("E{}", i);
    KILN_RETURN_IF_ERROR(check_input_dtype(
        ctx, i, name.c_str(), {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16}));
    const DataType t = ctx.has_input(i) ? ctx.input_dtype(i) : DataType::kUndefined;
    const DataType first = ctx.has_input(0) ? ctx.input_dtype(0) : DataType::kUndefined;
    if (t != DataType::kUndefined && first != DataType::kUndefined && t != first) {
      return ctx.error(fmt::format("input {} '{}' has dtype {}, but input 0 '{}' has {}", i, name, dtype_name(t),
                                   names.empty() ? "" : names[0], dtype_name(first)));
    }
  }
  return ok_status();
}

Status check_broadcasts_into(const InferenceContext& ctx, const MaybeShape& operand, const MaybeShape& out,
                             const std::string& what) {
  if (!operand || !out) return ok_status();
  auto fail = [&] {
    return ctx.error(fmt::format("{} {} does not broadcast to the output {} without enlarging it", what,
                                 shape_to_string(operand), shape_to_string(out)));
  };
  if (operand->size() > out->size()) return fail();
  const size_t lead = out->size() - operand->size();
  for (size_t i = 0; i < operand->size(); ++i) {
    const Dim& d = (*operand)[i];
    const Dim& o = (*out)[lead + i];
    if (d.is_known() && d.value == 1) continue;
    // Unknown or symbolic dims cannot be decided here; the kernel checks them at run time.
    if (d.is_known() && o.is_known() && d.value != o.value) return fail();
  }
  return ok_status();
}

bool attention_mask_strides(const Dims& mask, const int64_t scores[4], int64_t strides[4]) {
  if (mask.size() > 4) return false;
  const size_t pad = 4 - mask.size();
  int64_t stride = 1;
  for (size_t d = 4; d-- > 0;) {
    const int64_t len = d < pad ? 1 : mask[d - pad];
    if (len != 1 && len != scores[d]) return false;
    strides[d] = len == 1 ? 0 : stride;
    stride *= len;
  }
  return true;
}

}  // namespace kiln
