// If: runs then_branch or else_branch (graphs with no inputs) and returns its outputs. Without a
// known condition the output shapes are what both branches agree on.
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/subgraph_infer.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

Status infer_if(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType ct = ctx.input_dtype(0);
  if (ct != DataType::kUndefined && ct != DataType::kBool) {
    return ctx.error(fmt::format("input 0 'cond' has dtype {}, expected bool", dtype_name(ct)));
  }
  const MaybeShape& cs = ctx.input_shape(0);
  if (cs && is_static(cs) && element_count(static_dims(*cs)) != 1) {
    return ctx.error(fmt::format("input 0 'cond' has shape {}, expected one element", shape_to_string(cs)));
  }
  auto then_g = ctx.attrs().require_graph("then_branch");
  if (!then_g.ok()) return ctx.error(then_g.status().message());
  auto else_g = ctx.attrs().require_graph("else_branch");
  if (!else_g.ok()) return ctx.error(else_g.status().message());
  const Graph& tg = **then_g;
  const Graph& eg = **else_g;
  if (!tg.inputs().empty() || !eg.inputs().empty()) return ctx.error("the branches of If take no inputs");
  if (tg.outputs().size() != ctx.num_outputs() || eg.outputs().size() != ctx.num_outputs()) {
    return ctx.error(fmt::format("the node has {} outputs, then_branch {} and else_branch {}", ctx.num_outputs(),
                                 tg.outputs().size(), eg.outputs().size()));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<ValueState> to, infer_body(ctx, tg, {}));
  KILN_ASSIGN_OR_RETURN(std::vector<ValueState> eo, infer_body(ctx, eg, {}));
  std::optional<bool> cond;
  if (const Tensor* v = ctx.input_value(0); v && v->dtype() == DataType::kBool && v->numel() == 1) {
    cond = *v->data_as<bool>();
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    const ValueState& a = to[i];
    const ValueState& b = eo[i];
    if (a.dtype != DataType::kUndefined && b.dtype != DataType::kUndefined && a.dtype != b.dtype) {
      return ctx.error(fmt::format("output {} is {} in then_branch but {} in else_branch", i, dtype_name(a.dtype),
                                   dtype_name(b.dtype)));
    }
    const DataType t = a.dtype != DataType::kUndefined ? a.dtype : b.dtype;
    if (cond) {
      ctx.set_output(i, *cond ? a.dtype : b.dtype, *cond ? a.shape : b.shape);
    } else {
      ctx.set_output(i, t, merge_shape(a.shape, b.shape));
    }
  }
  return ok_status();
}

}  // namespace

void register_if(OpRegistry& r) {
  OpSchema s;
  s.op_type = "If";
  s.min_inputs = s.max_inputs = 1;
  s.min_outputs = 1;
  s.max_outputs = OpSchema::kUnbounded;
  s.infer = infer_if;
  r.add(std::move(s));
}

}  // namespace kiln
