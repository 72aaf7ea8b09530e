// Gives each kiln.Attention the narrowest form of its additive mask. kiln.Attention broadcasts
// its mask to [B, H, Sq, Sk] itself (docs/fused_ops.md), and its kernels read a key-padding
// mask [B, 1, 1, Sk] far faster than a full [B, 1, Sq, Sk] one, so a mask that only varies along
// keys but was computed broadcast is better read before the broadcast. PyTorch's dynamo
// exporter writes BERT's mask so:
//
//   keep = And(all-true constant [1, 1, S, 1], GatherND(Cast(attention_mask), ...) [B, 1, 1, S])
//   mask = Where(keep, 0, lowest)                                        -> [B, 1, S, S]
//
// narrow(v) is a value whose broadcast to v's shape equals v (or none):
//   Expand(x, shape)                          -> narrow(x) or x
//   And(x, all-true) / Or(x, all-false)       -> narrow(x) or x  (the constant only widens)
//   an elementwise op (Where, Not, Cast, And, Or, Add, Sub, Mul) with at least one input that
//   narrows and every other input of one element -> a new node computing the same op on the
//   narrow inputs: elementwise ops commute with broadcasting.
// The Attention reads narrow(mask) when it has rank <= 4, the mask's dtype and a dim of 1 where
// the mask's dim is not known to be 1 (every other dim is 1 or the mask's own by construction,
// so it has fewer elements unless that dim is 1 at run time, and never more).
//
// Nothing existing is changed but the Attention's mask input: the old chain may have other
// readers (graph outputs, subgraphs, other nodes); when it has none, dead-code elimination
// removes it. The new nodes go right before the first Attention that reads them and are shared
// by every later Attention with the same mask (BERT's twelve layers read one).
#include <map>
#include <memory>
#include <optional>

#include "fmt/format.h"
#include "ir/op_schema.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// How deep the chain from a mask back to its narrow source is followed (exporters write a few
// nodes; this only bounds the recursion).
constexpr int kMaxDepth = 16;

// A narrow form: an existing value, or a new node to build (`copy_of`'s op and attributes on
// `inputs`) whose output will have `dtype` and `shape`.
struct Narrow {
  Value* existing = nullptr;
  const Node* copy_of = nullptr;
  std::vector<std::shared_ptr<const Narrow>> inputs;
  DataType dtype = DataType::kUndefined;
  MaybeShape shape;
};
using NarrowPtr = std::shared_ptr<const Narrow>;

NarrowPtr existing(Value* v) {
  auto n = std::make_shared<Narrow>();
  n->existing = v;
  n->dtype = v->dtype;
  n->shape = v->shape;
  return n;
}

// A bool constant whose every element is `value`.
bool is_bool_constant_of(const Value* v, bool value) {
  if (!v || !v->constant || v->constant->dtype() != DataType::kBool || v->constant->numel() == 0) return false;
  const bool* p = v->constant->data_as<bool>();
  for (int64_t i = 0; i < v->constant->numel(); ++i) {
    if (p[i] != value) return false;
  }
  return true;
}

// A value of exactly one element (rank 0, or every dim known to be 1): broadcasting it is the
// same before and after the narrowing.
bool has_one_element(const Value* v) {
  if (!v || !v->shape) return false;
  for (const Dim& d : *v->shape) {
    if (!d.is_known() || d.value != 1) return false;
  }
  return true;
}

bool is_narrowable_elementwise(const Node* n) {
  for (const char* op : {"Where", "Not", "Cast", "And", "Or", "Add", "Sub", "Mul"}) {
    if (is_op(n, op)) return true;
  }
  return false;
}

ValueState state_of(const Narrow& n) {
  ValueState s;
  s.dtype = n.dtype;
  s.shape = n.shape;
  if (n.existing && n.existing->constant) s.value = *n.existing->constant;
  return s;
}

// The dims of `narrow` against the mask's: is some dim 1 where the mask's is not known to be 1?
bool drops_a_dim(const MaybeShape& narrow, const MaybeShape& mask) {
  if (!narrow || !mask || narrow->size() > mask->size()) return false;
  const size_t lead = mask->size() - narrow->size();
  for (size_t i = 0; i < mask->size(); ++i) {
    const Dim& m = (*mask)[i];
    if (m.is_known() && m.value == 0) return false;  // an empty mask: nothing to save
    const bool narrow_is_one = i < lead || ((*narrow)[i - lead].is_known() && (*narrow)[i - lead].value == 1);
    if (narrow_is_one && !(m.is_known() && m.value == 1)) return true;
  }
  return false;
}

class NarrowAttentionMasks final : public Pass {
 public:
  std::string name() const override { return "narrow-attention-masks"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    planned_.clear();
    built_.clear();
    std::vector<Node*> attentions;
    for (const auto& n : g.nodes()) {
      if (n->domain == "kiln" && n->op_type == "Attention" && n->input(3)) attentions.push_back(n.get());
    }
    bool changed = false;
    for (Node* a : attentions) {
      Value* mask = a->input(3);
      NarrowPtr plan = narrow(mask, 0);
      if (!plan || !plan->shape || plan->shape->size() > 4 || plan->dtype != mask->dtype) continue;
      if (!drops_a_dim(plan->shape, mask->shape) || !attention_accepts(*a, *plan)) continue;
      KILN_ASSIGN_OR_RETURN(Value * narrow_mask, build(g, *plan, a));
      g.set_input(a, 3, narrow_mask);
      changed = true;
    }
    return changed;
  }

 private:
  // narrow(v) as the header says, memoized per run (a mask is usually read by every layer).
  NarrowPtr narrow(Value* v, int depth) {
    if (depth > kMaxDepth) return nullptr;  // not remembered: a shorter path may reach v
    if (auto it = planned_.find(v); it != planned_.end()) return it->second;
    NarrowPtr r = plan(v, depth);
    planned_[v] = r;
    return r;
  }

  NarrowPtr narrow_or_itself(Value* x, int depth) {
    NarrowPtr r = narrow(x, depth + 1);
    return r ? r : existing(x);
  }

  NarrowPtr plan(Value* v, int depth) {
    Node* p = v->producer();
    if (!p || p->num_outputs() != 1 || p->output(0) != v) return nullptr;
    if (is_op(p, "Expand") && p->input(0)) return narrow_or_itself(p->input(0), depth);
    if (is_op(p, "And") || is_op(p, "Or")) {
      // x & true and x | false are x, broadcast to the result's shape.
      const bool identity = is_op(p, "And");
      for (size_t i = 0; i < 2; ++i) {
        Value* x = p->input(1 - i);
        if (is_bool_constant_of(p->input(i), identity) && x && x->dtype == DataType::kBool) return narrow_or_itself(x, depth);
      }
    }
    if (!is_narrowable_elementwise(p) || !p->schema || !p->schema->infer) return nullptr;
    auto node = std::make_shared<Narrow>();
    node->copy_of = p;
    bool any = false;
    for (Value* in : p->inputs()) {
      if (!in) return nullptr;
      if (NarrowPtr r = narrow(in, depth + 1)) {
        node->inputs.push_back(r);
        any = true;
      } else if (has_one_element(in)) {
        node->inputs.push_back(existing(in));
      } else {
        return nullptr;  // an operand of its own shape would keep the result wide
      }
    }
    if (!any) return nullptr;
    // The op's own inference on the narrow inputs (the node's attributes and opset are the
    // copy's) gives the new value's type and shape.
    std::vector<ValueState> states;
    for (const NarrowPtr& in : node->inputs) states.push_back(state_of(*in));
    std::vector<const ValueState*> ptrs;
    for (const ValueState& s : states) ptrs.push_back(&s);
    InferenceContext ctx(*p, ptrs);
    if (!p->schema->infer(ctx).ok() || ctx.outputs().size() != 1 || ctx.outputs()[0].dtype != v->dtype || !ctx.outputs()[0].shape) {
      return nullptr;
    }
    node->dtype = ctx.outputs()[0].dtype;
    node->shape = ctx.outputs()[0].shape;
    return node;
  }

  // The Attention's own inference with the narrow mask in place (a safety net: by construction
  // it broadcasts to where the old one did).
  static bool attention_accepts(const Node& a, const Narrow& mask) {
    if (!a.schema || !a.schema->infer) return false;
    std::vector<ValueState> states(a.num_inputs());
    std::vector<const ValueState*> ptrs;
    for (size_t i = 0; i < a.num_inputs(); ++i) {
      const Value* in = a.input(i);
      if (i == 3) {
        states[i] = state_of(mask);
      } else if (in) {
        states[i].dtype = in->dtype;
        states[i].shape = in->shape;
      }
      ptrs.push_back(in ? &states[i] : nullptr);
    }
    InferenceContext ctx(a, ptrs);
    return a.schema->infer(ctx).ok();
  }

  // Makes the planned value (new nodes before `pos`, shared with earlier builds).
  Result<Value*> build(Graph& g, const Narrow& n, Node* pos) {
    if (n.existing) return n.existing;
    const Node* orig = n.copy_of;
    if (auto it = built_.find(orig); it != built_.end()) return it->second;
    std::vector<Value*> ins;
    for (const NarrowPtr& in : n.inputs) {
      KILN_ASSIGN_OR_RETURN(Value * v, build(g, *in, pos));
      ins.push_back(v);
    }
    Value* out = g.add_value(g.unique_name(orig->output(0)->name() + "_narrow"), n.dtype, n.shape);
    KILN_ASSIGN_OR_RETURN(Node * copy, insert_replacement(g, pos, "", orig->op_type, orig->opset, std::move(ins), {out}, {orig},
                                                          g.unique_name(orig->name + "_narrow")));
    copy->attrs = orig->attrs;
    built_[orig] = out;
    return out;
  }

  std::map<const Value*, NarrowPtr> planned_;
  std::map<const Node*, Value*> built_;
};

}  // namespace

std::unique_ptr<Pass> make_narrow_attention_masks_pass() { return std::make_unique<NarrowAttentionMasks>(); }

}  // namespace kiln
