#include "ir/inference.h"

#include <algorithm>
#include <cstdlib>

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

// Shape arithmetic on symbolic dims: tracks the elements of small int tensors computed from
// Shape through the ops exporters use to build Reshape targets, so a target made of
// Shape(x)[0], Shape(x)[1], 12, 64 gives [batch, seq, 12, 64] rather than four unknowns.
constexpr size_t kMaxTrackedElems = 64;

std::optional<ShapeElems> track_elems(const Node& n, const InferenceContext& ctx) {
  const std::string& op = n.op_type;
  if (!n.domain.empty() || ctx.num_outputs() == 0) return std::nullopt;
  if (op == "Shape") {
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) return std::nullopt;
    const int64_t r = static_cast<int64_t>(in->size());
    auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
    const int64_t start = clamp(ctx.attrs().get_int("start", 0));
    const int64_t end = clamp(ctx.attrs().get_int("end", r));
    ShapeElems e;
    for (int64_t i = start; i < end; ++i) e.push_back(ShapeElem::of_dim((*in)[static_cast<size_t>(i)]));
    return e;
  }
  if (op == "Identity" || op == "Unsqueeze" || op == "Squeeze" || op == "Reshape" || op == "Flatten") {
    return ctx.input_elems(0);
  }
  if (op == "Cast") {
    const int64_t to = ctx.attrs().get_int("to", 0);
    if (to != static_cast<int64_t>(DataType::kInt64) && to != static_cast<int64_t>(DataType::kInt32)) return std::nullopt;
    return ctx.input_elems(0);
  }
  if (op == "Concat") {
    ShapeElems e;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      auto part = ctx.input_elems(i);
      if (!part) return std::nullopt;
      e.insert(e.end(), part->begin(), part->end());
    }
    return e;
  }
  if (op == "Gather") {
    auto data = ctx.input_elems(0);
    auto idx = ctx.input_elems(1);
    const MaybeShape& ds = ctx.input_shape(0);
    if (!data || !idx || !ds || ds->size() != 1) return std::nullopt;
    ShapeElems e;
    const int64_t len = static_cast<int64_t>(data->size());
    for (const ShapeElem& i : *idx) {
      if (!i.number) return std::nullopt;
      const int64_t k = *i.number < 0 ? *i.number + len : *i.number;
      if (k < 0 || k >= len) return std::nullopt;  // the schema or kernel reports it
      e.push_back((*data)[static_cast<size_t>(k)]);
    }
    return e;
  }
  if (op == "Slice" && n.opset >= 10) {
    auto data = ctx.input_elems(0);
    auto starts = ctx.input_elems(1), ends = ctx.input_elems(2);
    if (!data || !starts || !ends || starts->size() != 1 || ends->size() != 1 || !(*starts)[0].number ||
        !(*ends)[0].number) {
      return std::nullopt;
    }
    if (ctx.has_input(4)) {  // only unit steps
      auto st = ctx.input_elems(4);
      if (!st || st->size() != 1 || !(*st)[0].number || *(*st)[0].number != 1) return std::nullopt;
    }
    const int64_t len = static_cast<int64_t>(data->size());
    auto clamp = [len](int64_t v) { return std::clamp(v < 0 ? v + len : v, int64_t{0}, len); };
    const int64_t b = clamp(*(*starts)[0].number), en = clamp(*(*ends)[0].number);
    ShapeElems e;
    for (int64_t i = b; i < en; ++i) e.push_back((*data)[static_cast<size_t>(i)]);
    return e;
  }
  return std::nullopt;
}

// Names unknown dims "?N" (see InferenceOptions::name_unknown_dims).
class DimNamer {
 public:
  explicit DimNamer(const Graph& g) {
    auto scan = [&](const MaybeShape& s) {
      if (!s) return;
      for (const Dim& d : *s) {
        if (d.symbol.size() > 1 && d.symbol[0] == '?') {
          next_ = std::max(next_, std::strtoll(d.symbol.c_str() + 1, nullptr, 10) + 1);
        }
      }
    };
    for (const auto& v : g.values()) scan(v->shape);
  }
  void name(MaybeShape& s) {
    if (!s) return;
    for (Dim& d : *s) {
      if (!d.is_known() && d.symbol.empty()) d = Dim::sym("?" + std::to_string(next_++));
    }
  }

 private:
  long long next_ = 1;
};

Status infer_nodes(const Graph& g, ValueStates& states, const InferenceOptions& options) {
  std::optional<DimNamer> namer;
  if (options.name_unknown_dims) namer.emplace(g);
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
      for (const Value* o : sg.outputs()) declared.push_back(ValueState{o->dtype, o->shape, std::nullopt, std::nullopt});
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
    if (!ctx.outputs().empty() && !ctx.outputs()[0].value) {
      auto e = track_elems(n, ctx);
      if (e && e->size() <= kMaxTrackedElems) ctx.mutable_outputs()[0].elems = std::move(e);
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
      if (namer) namer->name(s.shape);
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
