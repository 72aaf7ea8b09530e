#include "builder/precision.h"

#include <set>
#include <unordered_set>

#include "builder/lowering.h"
#include "core/float16.h"
#include "fmt/format.h"
#include "ir/inference.h"
#include "ir/op_schema.h"

namespace kiln {

namespace {

// The Cast schema the inserted casts are written for (13 is the first that names bfloat16).
constexpr int kCastOpset = 13;

// Kept in float32 under a 16-bit precision: their results routinely leave fp16's range (65504)
// or need more than its 11-bit mantissa (a sum over thousands of elements).
bool kept_in_fp32(const Node& n) {
  static const std::set<std::string> ops = {"Exp", "Pow", "ReduceSum", "ReduceSumSquare", "ReduceProd", "ReduceLogSumExp", "CumSum"};
  return n.domain.empty() && ops.count(n.op_type);
}

// Ops whose output dtype an attribute names (inference reads it there): converting their outputs
// would make the engine disagree with its own inference. Cast is rewritten instead.
bool output_dtype_from_attribute(const Node& n) {
  static const std::set<std::string> ops = {"ConstantOfShape", "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike",
                                            "RandomUniformLike", "Multinomial", "Bernoulli", "CastLike"};
  return n.domain.empty() && ops.count(n.op_type);
}

bool has_subgraph(const Node& n) {
  for (const auto& [name, a] : n.attrs.all()) {
    if (a.g || !a.graphs.empty()) return true;
  }
  return false;
}

// The node's distinct float32 inputs and outputs.
std::vector<Value*> float32_values(const Node& n) {
  std::vector<Value*> out;
  auto add = [&](Value* v) {
    if (v && v->dtype == DataType::kFloat32 && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (Value* v : n.inputs()) add(v);
  for (Value* v : n.outputs()) add(v);
  return out;
}

Result<Tensor> converted(const Tensor& t, DataType low) {
  KILN_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(low, t.shape()));
  const float* src = t.data_as<float>();
  uint16_t* dst = out.data_as<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = low == DataType::kFloat16 ? float_to_half_bits(src[i]) : float_to_bf16_bits(src[i]);
  return out;
}

class PrecisionLowering {
 public:
  PrecisionLowering(Graph& g, const Backend& backend, const std::string& precision)
      : g_(g), backend_(backend), precision_(precision), low_(precision == "fp16" ? DataType::kFloat16 : DataType::kBFloat16) {}

  Status run() {
    choose_layers();
    if (low_layers_.empty()) return ok_status();
    const std::set<std::string> read_by_subgraphs = g_.names_read_by_subgraphs();
    std::vector<Value*> values;
    for (const auto& v : g_.values()) values.push_back(v.get());
    for (Value* v : values) {
      if (v->dtype != DataType::kFloat32) continue;
      KILN_RETURN_IF_ERROR(convert(v, read_by_subgraphs.count(v->name()) > 0));
    }
    for (Node* n : low_layers_) {
      n->precision = precision_;
      if (n->domain.empty() && n->op_type == "Cast") n->attrs.set_int("to", static_cast<int64_t>(n->output(0)->dtype));
    }
    g_.remove_dead_values();
    KILN_RETURN_IF_ERROR(g_.topological_sort());
    return check_inference_agrees();
  }

 private:
  // A device layer computes in low_ when its kernel table still picks a device kernel for it
  // with its float32 tensors in low_ (the dtypes are switched for the question and back).
  void choose_layers() {
    for (const auto& np : g_.nodes()) {
      Node& n = *np;
      if (n.backend != backend_.name() || kept_in_fp32(n) || output_dtype_from_attribute(n) || has_subgraph(n)) continue;
      const std::vector<Value*> fl = float32_values(n);
      if (fl.empty()) continue;
      for (Value* v : fl) v->dtype = low_;
      const KernelEntry* k = backend_.kernels().find(n);
      for (Value* v : fl) v->dtype = DataType::kFloat32;
      if (!k || !k->backend.empty()) continue;
      n.kernel = k->name;
      low_layers_.insert(&n);
    }
  }

  bool is_low(const Node* n) const { return n && low_layers_.count(const_cast<Node*>(n)); }

  // v (float32): the 16-bit layers read a 16-bit version of it; everything else keeps reading v.
  Status convert(Value* v, bool read_by_subgraph) {
    std::vector<Use> low_readers, other_readers;
    for (const Use& u : v->uses()) (is_low(u.node) ? low_readers : other_readers).push_back(u);
    Node* p = v->producer();
    if (is_low(p)) {
      // The producer writes the 16-bit value; a Cast back gives v to the float32 readers.
      Value* low = g_.add_value(g_.unique_name(v->name() + "_" + precision_), low_, v->shape);
      const size_t k = v->producer_output();
      g_.set_output(p, k, low);
      for (const Use& u : low_readers) g_.set_input(u.node, u.input_index, low);
      if (!other_readers.empty() || v->is_graph_output() || read_by_subgraph) {
        KILN_RETURN_IF_ERROR(add_cast(low, v));
      }
      return ok_status();
    }
    if (low_readers.empty()) return ok_status();
    Value* low = nullptr;
    if (v->constant) {
      KILN_ASSIGN_OR_RETURN(Tensor t, converted(*v->constant, low_));
      low = g_.add_constant(g_.unique_name(v->name() + "_" + precision_), std::move(t));
    } else {
      low = g_.add_value(g_.unique_name(v->name() + "_" + precision_), low_, v->shape);
      KILN_RETURN_IF_ERROR(add_cast(v, low));
    }
    for (const Use& u : low_readers) g_.set_input(u.node, u.input_index, low);
    return ok_status();
  }

  // A Cast from `from` to `to` (whose dtype says the target), lowered to the backend.
  Status add_cast(Value* from, Value* to) {
    Attributes attrs;
    attrs.set_int("to", static_cast<int64_t>(to->dtype));
    return insert_lowered_node(g_, backend_, nullptr, "", "Cast", kCastOpset, {from}, {to}, g_.unique_name("Cast_" + to->name()), attrs)
        .status();
  }

  // The runtime re-infers dtypes when it plans a run: they must come out as chosen here.
  Status check_inference_agrees() {
    std::unordered_map<const Value*, DataType> chosen;
    for (const auto& v : g_.values()) chosen[v.get()] = v->dtype;
    ValueStates states = initial_states(g_);
    KILN_RETURN_IF_ERROR(infer_graph(g_, states, InferenceOptions{}));
    for (const auto& [v, st] : states) {
      auto it = chosen.find(v);
      if (it != chosen.end() && st.dtype != DataType::kUndefined && st.dtype != it->second) {
        const Node* p = v->producer();
        return internal_error(fmt::format("--{}: {} would write {} as {}, but inference says {}", precision_,
                                          p ? p->describe() : std::string("the graph"), v->name(), dtype_name(it->second), dtype_name(st.dtype)));
      }
    }
    return ok_status();
  }

  Graph& g_;
  const Backend& backend_;
  const std::string precision_;
  const DataType low_;
  std::set<Node*> low_layers_;
};

}  // namespace

Status apply_device_precision(Graph& g, const Backend& backend, const std::string& precision) {
  if (!backend.device() || (precision != "fp16" && precision != "bf16")) return ok_status();
  return PrecisionLowering(g, backend, precision).run();
}

}  // namespace kiln
