// Loop: inputs (M, cond, v_initial...), body (iteration_num, cond, v...) -> (cond, v..., scan...),
// outputs (v_final..., scan outputs stacked along a new first axis). M and cond are optional;
// without cond the body's cond output is ignored (a plain for loop).
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/subgraph_infer.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

Status infer_loop(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  if (ctx.num_inputs() < 2) return ctx.error("Loop takes at least 2 inputs (M and cond, which may be empty)");
  const size_t n = ctx.num_inputs() - 2;
  if (ctx.num_outputs() < n) {
    return ctx.error(fmt::format("the node has {} loop-carried inputs but only {} outputs", n, ctx.num_outputs()));
  }
  const size_t k = ctx.num_outputs() - n;
  auto body_r = ctx.attrs().require_graph("body");
  if (!body_r.ok()) return ctx.error(body_r.status().message());
  const Graph& body = **body_r;
  if (body.inputs().size() != 2 + n || body.outputs().size() != 1 + n + k) {
    return ctx.error(fmt::format("the body takes {} inputs and gives {} outputs, expected {} and {}",
                                 body.inputs().size(), body.outputs().size(), 2 + n, 1 + n + k));
  }
  if (ctx.has_input(0) && ctx.input_dtype(0) != DataType::kUndefined && ctx.input_dtype(0) != DataType::kInt64) {
    return ctx.error(fmt::format("input 0 'M' has dtype {}, expected int64", dtype_name(ctx.input_dtype(0))));
  }
  if (ctx.has_input(1) && ctx.input_dtype(1) != DataType::kUndefined && ctx.input_dtype(1) != DataType::kBool) {
    return ctx.error(fmt::format("input 1 'cond' has dtype {}, expected bool", dtype_name(ctx.input_dtype(1))));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(2 + i)) return ctx.error(fmt::format("loop-carried input {} is empty", 2 + i));
  }

  std::vector<ValueState> ins(2 + n);
  ins[0].dtype = DataType::kInt64;
  ins[0].shape = SymShape{};
  ins[1].dtype = DataType::kBool;
  ins[1].shape = SymShape{};
  for (size_t i = 0; i < n; ++i) {
    ins[2 + i].dtype = ctx.input_dtype(2 + i);
    ins[2 + i].shape = ctx.input_shape(2 + i);
  }
  // Loop-carried shapes may change between iterations: widen them until the body maps them to
  // themselves (a few rounds; each round only turns dims unknown).
  std::vector<ValueState> outs;
  for (int round = 0; round < 4; ++round) {
    KILN_ASSIGN_OR_RETURN(outs, infer_body(ctx, body, ins));
    if (outs.size() != 1 + n + k) return ctx.error("the body's inference gave the wrong number of outputs");
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      const ValueState& o = outs[1 + i];
      if (o.dtype != DataType::kUndefined && ins[2 + i].dtype != DataType::kUndefined && o.dtype != ins[2 + i].dtype) {
        return ctx.error(fmt::format("loop-carried value {} enters as {} but the body returns {}", i,
                                     dtype_name(ins[2 + i].dtype), dtype_name(o.dtype)));
      }
      MaybeShape m = merge_shape(ins[2 + i].shape, o.shape);
      if (m != ins[2 + i].shape) {
        ins[2 + i].shape = m;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (size_t i = 0; i < n; ++i) {
    const DataType t = ins[2 + i].dtype != DataType::kUndefined ? ins[2 + i].dtype : outs[1 + i].dtype;
    ctx.set_output(i, t, ins[2 + i].shape);
  }
  // The trip count is known only for a plain for loop with a known M.
  Dim trips = Dim::unknown();
  if (!ctx.has_input(1)) {
    if (const Tensor* m = ctx.input_value(0)) {
      auto v = read_int64s(*m);
      if (v.ok() && v->size() == 1) trips = Dim::known(std::max<int64_t>((*v)[0], 0));
    }
  }
  for (size_t j = 0; j < k; ++j) {
    const ValueState& o = outs[1 + n + j];
    MaybeShape s;
    if (o.shape) {
      SymShape sh{trips};
      sh.insert(sh.end(), o.shape->begin(), o.shape->end());
      s = sh;
    }
    ctx.set_output(n + j, o.dtype, s);
  }
  return ok_status();
}

}  // namespace

void register_loop(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Loop";
  s.min_inputs = 2;
  s.max_inputs = OpSchema::kUnbounded;
  s.min_outputs = 0;
  s.max_outputs = OpSchema::kUnbounded;
  s.infer = infer_loop;
  r.add(std::move(s));
}

}  // namespace kiln
