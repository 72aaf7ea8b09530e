// Merges nodes that compute the same thing: same domain, op type and opset, identical attributes
// and the same input Values. The later node goes; its readers read the earlier node's outputs.
// Equal small constants (dtype, shape and bytes) are made one Value first, so that nodes reading
// copies of one constant become mergeable. The graph is in execution order, so one forward sweep
// merges whole chains: once a node's duplicates are gone, their readers read the same Values and
// match in turn.
//
// Never merged: random ops (schema not deterministic), ops kiln has no schema for, and nodes with
// subgraph attributes. When the later node's output is a graph output (or a name a subgraph
// reads) it keeps its name: the earlier node produces it instead of its own output.
#include <cstring>
#include <functional>
#include <unordered_map>

#include "ir/op_schema.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// Constants up to this many elements are compared for deduplication (bounds the cost).
constexpr int64_t kMaxDedupElements = 4096;

size_t hash_combine(size_t seed, size_t v) { return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)); }

size_t hash_bytes(const void* data, size_t n) {
  return std::hash<std::string_view>{}(std::string_view(static_cast<const char*>(data), n));
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Attributes are equal bit for bit (so 0.0 and -0.0 differ, and NaN equals itself).
bool same_attribute(const Attribute& a, const Attribute& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Attribute::Kind::kFloat: return std::memcmp(&a.f, &b.f, sizeof(float)) == 0;
    case Attribute::Kind::kInt: return a.i == b.i;
    case Attribute::Kind::kString: return a.s == b.s;
    case Attribute::Kind::kTensor: return same_tensor(a.t, b.t);
    case Attribute::Kind::kFloats: return same_bits(a.floats, b.floats);
    case Attribute::Kind::kInts: return a.ints == b.ints;
    case Attribute::Kind::kStrings: return a.strings == b.strings;
    case Attribute::Kind::kTensors: {
      if (a.tensors.size() != b.tensors.size()) return false;
      for (size_t i = 0; i < a.tensors.size(); ++i) {
        if (!same_tensor(a.tensors[i], b.tensors[i])) return false;
      }
      return true;
    }
    case Attribute::Kind::kGraph:
    case Attribute::Kind::kGraphs: return false;  // bodies are never compared
  }
  return false;
}

bool has_subgraph(const Node& n) {
  for (const auto& [k, a] : n.attrs.all()) {
    if (a.kind == Attribute::Kind::kGraph || a.kind == Attribute::Kind::kGraphs || a.g || !a.graphs.empty()) return true;
  }
  return false;
}

bool mergeable(const Node& n) {
  return n.schema && n.schema->deterministic && n.num_outputs() > 0 && !has_subgraph(n);
}

// Same computation: op, opset, attributes, inputs and which outputs exist.
bool same_computation(const Node& a, const Node& b) {
  if (a.op_type != b.op_type || a.domain != b.domain || a.opset != b.opset || a.inputs() != b.inputs() ||
      a.num_outputs() != b.num_outputs() || a.attrs.size() != b.attrs.size()) {
    return false;
  }
  for (size_t i = 0; i < a.num_outputs(); ++i) {
    if ((a.output(i) == nullptr) != (b.output(i) == nullptr)) return false;
  }
  const auto& am = a.attrs.all();
  const auto& bm = b.attrs.all();
  for (auto ia = am.begin(), ib = bm.begin(); ia != am.end(); ++ia, ++ib) {
    if (ia->first != ib->first || !same_attribute(ia->second, ib->second)) return false;
  }
  return true;
}

size_t signature(const Node& n) {
  size_t h = std::hash<std::string>{}(n.op_type);
  h = hash_combine(h, std::hash<std::string>{}(n.domain));
  h = hash_combine(h, static_cast<size_t>(n.opset));
  h = hash_combine(h, n.num_outputs());
  for (const Value* v : n.inputs()) h = hash_combine(h, std::hash<const Value*>{}(v));
  for (const auto& [name, a] : n.attrs.all()) {
    h = hash_combine(h, std::hash<std::string>{}(name));
    if (a.kind == Attribute::Kind::kInt) h = hash_combine(h, std::hash<int64_t>{}(a.i));
  }
  return h;
}

class EliminateCommonSubexpressions final : public Pass {
 public:
  std::string name() const override { return "eliminate-common-subexpressions"; }
  int level() const override { return 1; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    bool changed = deduplicate_constants(g, uses);
    std::unordered_map<size_t, std::vector<Node*>> seen;
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      if (!mergeable(*n)) continue;
      std::vector<Node*>& bucket = seen[signature(*n)];
      bool merged = false;
      for (Node* earlier : bucket) {
        if (same_computation(*earlier, *n) && merge_into(g, uses, earlier, n)) {
          merged = true;
          break;
        }
      }
      if (merged) changed = true;
      else bucket.push_back(n);
    }
    return changed;
  }

 private:
  // Points readers of each small constant at the first equal one. A constant that is also a graph
  // input (an overridable initializer) is neither replaced nor kept as the shared copy, and one
  // whose name must stay (graph output, read by a subgraph) is only kept.
  static bool deduplicate_constants(Graph& g, const GraphUses& uses) {
    std::unordered_map<size_t, std::vector<Value*>> by_content;
    std::vector<Value*> constants;
    for (const auto& v : g.values()) {
      if (v->is_constant() && !v->is_graph_input() && v->constant->numel() <= kMaxDedupElements) constants.push_back(v.get());
    }
    bool changed = false;
    for (Value* v : constants) {
      const Tensor& t = *v->constant;
      size_t h = hash_combine(hash_bytes(t.data(), t.nbytes()), static_cast<size_t>(t.dtype()));
      for (int64_t d : t.shape()) h = hash_combine(h, static_cast<size_t>(d));
      std::vector<Value*>& bucket = by_content[h];
      Value* same = nullptr;
      for (Value* c : bucket) {
        if (same_tensor(*c->constant, t)) {
          same = c;
          break;
        }
      }
      if (!same) {
        bucket.push_back(v);
        continue;
      }
      if (uses.read_outside(v) || v->uses().empty()) continue;
      g.replace_all_uses(v, same);
      changed = true;
    }
    if (changed) g.remove_dead_values();
    return changed;
  }

  // Makes `later`'s readers read `earlier`'s outputs and removes `later`. An output of `later`
  // that must keep its name moves to `earlier` (whose own output's readers follow), which is
  // impossible when that output of `earlier` must keep its name too.
  static bool merge_into(Graph& g, const GraphUses& uses, Node* earlier, Node* later) {
    for (size_t i = 0; i < later->num_outputs(); ++i) {
      const Value* o = later->output(i);
      if (o && uses.read_outside(o) && uses.read_outside(earlier->output(i))) return false;
    }
    for (size_t i = 0; i < later->num_outputs(); ++i) {
      Value* keep = earlier->output(i);
      Value* drop = later->output(i);
      if (!drop) continue;
      if (!uses.read_outside(drop)) {
        g.replace_all_uses(drop, keep);
      } else {
        g.replace_all_uses(keep, drop);
        g.set_output(earlier, i, drop);
      }
    }
    earlier->fused_from.insert(earlier->fused_from.end(), later->fused_from.begin(), later->fused_from.end());
    g.remove_node(later);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_eliminate_common_subexpressions_pass() {
  return std::make_unique<EliminateCommonSubexpressions>();
}

}  // namespace kiln
