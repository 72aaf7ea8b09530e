#include "ir/inference.h"

#include "fmt/format.h"

namespace kiln {

ValueStates initial_states(const Graph& g) {
  ValueStates states;
  for (const auto& v : g.values()) {
    ValueState s;
    s.dtype = v->dtype;
    s.shape = v->shape;
    if (v->constant) s.value = *v->constant;
    states[v.get()] = std::move(s);
  }
  return states;
}

namespace {

// Keeps what the model declared where inference knows less (unknown rank or dims).
MaybeShape merge_shapes(const MaybeShape& inferred, const MaybeShape& declared) {
  if (!inferred) return declared;
  if (!declared || declared->size() != inferred->size()) return inferred;
  SymShape out = *inferred;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_known() && ((*declared)[i].is_known() || out[i].symbol.empty())) out[i] = (*declared)[i];
  }
  return out;
}

Result<std::vector<ValueState>> infer_subgraph(const Graph& g, const std::vector<ValueState>& inputs,
                                               const ValueStates& outer, const InferenceOptions& options);

Status infer_nodes(const Graph& g, ValueStates& states, const InferenceOptions& options) {
  for (const auto& np : g.nodes()) {
    const Node& n = *np;
    if (!n.schema) return internal_error(fmt::format("{} has no schema", n.describe()));
    std::vector<const ValueState*> ins;
    ins.reserve(n.num_inputs());
    for (Value* v : n.inputs()) {
      if (!v) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = states.find(v);
      ins.push_back(it == states.end() ? nullptr : &it->second);
    }
    InferenceContext ctx(n, ins);
    ctx.infer_subgraph = [&](const Graph& sg, const std::vector<ValueState>& sin) -> Result<std::vector<ValueState>> {
      auto r = infer_subgraph(sg, sin, states, options);
      if (r.ok()) return r;
      // A body that cannot be inferred ahead (an If branch that never runs for these inputs, a
      // shape only its data decides) is not an error yet: its kernels report real faults when
      // they run. Fall back to what the body declares.
      std::vector<ValueState> declared;
      for (const Value* o : sg.outputs()) declared.push_back(ValueState{o->dtype, o->shape, std::nullopt});
      return declared;
    };
    if (n.schema->infer) KILN_RETURN_IF_ERROR(n.schema->infer(ctx));

    // Constant propagation: all inputs known (and something to compute from) -> evaluate.
    bool all_known = n.schema->deterministic && options.evaluate;
    for (const ValueState* s : ins) all_known &= (s == nullptr || s->value.has_value());
    bool outputs_known = true;
    for (const ValueState& o : ctx.outputs()) outputs_known &= o.value.has_value();
    if (all_known && !outputs_known) {
      std::vector<const Tensor*> vals;
      for (const ValueState* s : ins) vals.push_back(s ? &*s->value : nullptr);
      KILN_ASSIGN_OR_RETURN(auto computed, options.evaluate(n, vals));
      if (computed) {
        for (size_t i = 0; i < computed->size() && i < ctx.num_outputs(); ++i) {
          ctx.set_output_value(i, std::move((*computed)[i]));
        }
      }
    }
    for (size_t i = 0; i < n.num_outputs(); ++i) {
      Value* o = n.output(i);
      if (!o) continue;
      ValueState s = std::move(ctx.mutable_outputs()[i]);
      auto prev = states.find(o);
      if (prev != states.end()) {
        s.shape = merge_shapes(s.shape, prev->second.shape);
        if (s.dtype == DataType::kUndefined) s.dtype = prev->second.dtype;
      }
      states[o] = std::move(s);
    }
  }
  return ok_status();
}

Result<std::vector<ValueState>> infer_subgraph(const Graph& g, const std::vector<ValueState>& inputs,
                                               const ValueStates& outer, const InferenceOptions& options) {
  ValueStates states = initial_states(g);
  for (size_t i = 0; i < g.inputs().size() && i < inputs.size(); ++i) {
    ValueState s = inputs[i];
    if (s.dtype == DataType::kUndefined) s.dtype = g.inputs()[i]->dtype;
    if (!s.shape) s.shape = g.inputs()[i]->shape;
    // Loop-carried values change every iteration: never treat them as constants.
    s.value.reset();
    states[g.inputs()[i]] = std::move(s);
  }
  for (Value* r : g.outer_refs()) {
    // Find the value of the same name in the enclosing scopes' states.
    for (const auto& [v, s] : outer) {
      if (v->name() == r->name() && v->graph() != &g) {
        ValueState copy = s;
        copy.value.reset();
        states[r] = std::move(copy);
        break;
      }
    }
  }
  InferenceOptions sub_options;  // no folding inside bodies: their values vary per iteration
  KILN_RETURN_IF_ERROR(infer_nodes(g, states, sub_options));
  std::vector<ValueState> outs;
  for (Value* o : g.outputs()) {
    auto it = states.find(o);
    outs.push_back(it == states.end() ? ValueState{} : it->second);
  }
  return outs;
}

}  // namespace

Status infer_graph(const Graph& g, ValueStates& states, const InferenceOptions& options) {
  return infer_nodes(g, states, options);
}

void apply_states(Graph& g, const ValueStates& states) {
  for (const auto& v : g.values()) {
    auto it = states.find(v.get());
    if (it == states.end()) continue;
    if (it->second.dtype != DataType::kUndefined) v->dtype = it->second.dtype;
    if (it->second.shape) v->shape = it->second.shape;
  }
}

}  // namespace kiln
