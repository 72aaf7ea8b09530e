// Unary math ops (Abs ... BitwiseNot). They differ only in the dtypes they accept and whether
// they output bool, so one table describes them all instead of 26 near-identical files.
#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

struct UnaryMathOp {
  const char* op_type;
  ElementTypes types;
  bool outputs_bool;  // IsNaN, IsInf
};

constexpr UnaryMathOp kUnaryMathOps[] = {
    {"Abs", ElementTypes::kNumeric, false},      {"Neg", ElementTypes::kSignedNumeric, false},
    {"Reciprocal", ElementTypes::kFloat, false}, {"Sqrt", ElementTypes::kFloat, false},
    {"Exp", ElementTypes::kFloat, false},        {"Log", ElementTypes::kFloat, false},
    {"Ceil", ElementTypes::kFloat, false},       {"Floor", ElementTypes::kFloat, false},
    {"Round", ElementTypes::kFloat, false},      {"Sign", ElementTypes::kNumeric, false},
    {"Erf", ElementTypes::kNumeric, false},      {"Sin", ElementTypes::kFloat, false},
    {"Cos", ElementTypes::kFloat, false},        {"Tan", ElementTypes::kFloat, false},
    {"Asin", ElementTypes::kFloat, false},       {"Acos", ElementTypes::kFloat, false},
    {"Atan", ElementTypes::kFloat, false},       {"Sinh", ElementTypes::kFloat, false},
    {"Cosh", ElementTypes::kFloat, false},       {"Asinh", ElementTypes::kFloat, false},
    {"Acosh", ElementTypes::kFloat, false},      {"Atanh", ElementTypes::kFloat, false},
    {"IsNaN", ElementTypes::kFloat, true},       {"IsInf", ElementTypes::kFloat, true},
    {"Not", ElementTypes::kBool, false},         {"BitwiseNot", ElementTypes::kInt, false},
};

}  // namespace

void register_unary_math_ops(OpRegistry& r) {
  for (const UnaryMathOp& op : kUnaryMathOps) {
    OpSchema s;
    s.op_type = op.op_type;
    s.min_inputs = s.max_inputs = 1;
    s.infer = [op](InferenceContext& ctx) -> Status {
      KILN_RETURN_IF_ERROR(check_required_inputs(ctx, 1));
      KILN_RETURN_IF_ERROR(check_element_type(ctx, 0, op.types));
      if (op.outputs_bool) {
        ctx.set_output(0, DataType::kBool, ctx.input_shape(0));
        return ok_status();
      }
      return same_as_input(ctx);
    };
    r.add(std::move(s));
  }
}

}  // namespace kiln
