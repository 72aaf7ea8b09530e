// Activation ops with float attributes (LeakyRelu ... Tanh). Each is y = f(x) elementwise with
// the input's dtype and shape; only their dtypes and attribute checks differ, so one table
// describes them all.
#include <cmath>
#include <string>

#include "fmt/format.h"
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

using AttrCheck = Status (*)(const InferenceContext& ctx);

Status no_check(const InferenceContext&) { return ok_status(); }

// Celu divides by alpha.
Status check_celu(const InferenceContext& ctx) {
  const float alpha = ctx.attrs().get_float("alpha", 1.0f);
  if (alpha == 0.0f || !std::isfinite(alpha)) {
    return ctx.error(
        fmt::format("attribute 'alpha' is {}, expected a finite non-zero value", alpha));
  }
  return ok_status();
}

Status check_gelu(const InferenceContext& ctx) {
  const std::string a = ctx.attrs().get_string("approximate", "none");
  if (a != "none" && a != "tanh") {
    return ctx.error(fmt::format("attribute 'approximate' is '{}', expected 'none' or 'tanh'", a));
  }
  return ok_status();
}

struct ActivationOp {
  const char* op_type;
  ElementTypes types;
  AttrCheck check;
};

constexpr ActivationOp kActivationOps[] = {
    {"LeakyRelu", ElementTypes::kFloat, no_check},
    {"Elu", ElementTypes::kFloat, no_check},
    {"Selu", ElementTypes::kFloat, no_check},
    {"Celu", ElementTypes::kFloat, check_celu},
    {"Sigmoid", ElementTypes::kFloat, no_check},
    {"HardSigmoid", ElementTypes::kFloat, no_check},
    {"HardSwish", ElementTypes::kFloat, no_check},
    {"Softplus", ElementTypes::kFloat, no_check},
    {"Softsign", ElementTypes::kFloat, no_check},
    {"Mish", ElementTypes::kFloat, no_check},
    {"Gelu", ElementTypes::kFloat, check_gelu},
    {"ThresholdedRelu", ElementTypes::kFloat, no_check},
    {"Shrink", ElementTypes::kNumeric, no_check},
    {"Tanh", ElementTypes::kFloat, no_check},
};

}  // namespace

void register_activation_ops(OpRegistry& r) {
  for (const ActivationOp& op : kActivationOps) {
    OpSchema s;
    s.op_type = op.op_type;
    s.min_inputs = s.max_inputs = 1;
    s.infer = [op](InferenceContext& ctx) -> Status {
      KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
      KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, op.types));
      KILN_RETURN_IF_ERROR(op.check(ctx));
      return same_as_input(ctx);
    };
    r.add(std::move(s));
  }
}

}  // namespace kiln
