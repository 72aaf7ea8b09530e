// Removes nodes that hand their input on unchanged: Identity, Dropout at inference, Cast to the
// input's own dtype, Reshape to the input's own shape, Transpose with the identity perm, and
// pairs that cancel (Transpose of Transpose with inverse perms, Unsqueeze then Squeeze of the
// same axes and the reverse). A Transpose of a Transpose whose perms do not cancel becomes one
// Transpose; a Reshape of a Reshape reads the inner Reshape's input directly. A Transpose done
// on a view with the leading dims merged, Reshape [A.., T..] -> [prod A, T..], Transpose keeping
// dim 0, Reshape back to [A.., permuted T..] (PyTorch's dynamo exporter writes k.transpose(-2,
// -1) of a 4-D tensor so), becomes one Transpose of the original.
//
// Readers of the removed node's output read its input instead. A graph output (or a name a
// subgraph reads) must keep its name: then the node producing the input produces the output in
// its place, which needs the input to be an intermediate nothing else reads. An Identity from a
// graph input straight to a graph output therefore stays.
#include <numeric>
#include <optional>
#include <set>
#include <unordered_set>

#include "ir/ops/infer_util.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// A Transpose's perm: the attribute, or reversed axes when absent (which needs the input's rank).
// Nothing when it is unknown or not a permutation.
std::optional<std::vector<int64_t>> perm_of(const Node* t) {
  std::vector<int64_t> perm = t->attrs.get_ints("perm");
  if (!t->attrs.has("perm")) {
    const Value* in = t->input(0);
    if (!in || !in->shape) return std::nullopt;
    perm.resize(in->shape->size());
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) return std::nullopt;
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

bool is_identity_perm(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// The axes of a Squeeze or Unsqueeze (attribute before opset 13, constant input from 13), or
// nothing when they are not known ahead or not given.
std::optional<std::vector<int64_t>> axes_of(const Node* n) {
  if (n->opset < 13) {
    if (!n->attrs.has("axes")) return std::nullopt;
    return n->attrs.get_ints("axes");
  }
  const Value* a = n->input(1);
  if (!a || !a->constant) return std::nullopt;
  auto v = read_int64s(*a->constant);
  if (!v.ok()) return std::nullopt;
  return *v;
}

// Axes made non-negative for a tensor of `rank`; nothing when one is out of range or repeated.
std::optional<std::set<int64_t>> normalized_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::set<int64_t> out;
  for (int64_t a : axes) {
    const int64_t x = a < 0 ? a + rank : a;
    if (x < 0 || x >= rank || !out.insert(x).second) return std::nullopt;
  }
  return out;
}

// The constant target of a Reshape (attribute before opset 5, input 1 from 5), if known.
std::optional<std::vector<int64_t>> reshape_target(const Node* n) {
  if (n->opset < 5) {
    if (!n->attrs.has("shape")) return std::nullopt;
    return n->attrs.get_ints("shape");
  }
  const Value* s = n->input(1);
  if (!s || !s->constant) return std::nullopt;
  auto v = read_int64s(*s->constant);
  if (!v.ok()) return std::nullopt;
  return *v;
}

bool is_false_scalar(const Value* v) {
  return v && v->constant && v->constant->dtype() == DataType::kBool && v->constant->numel() == 1 &&
         !*v->constant->data_as<bool>();
}

class RemoveIdentityOps final : public Pass {
 public:
  std::string name() const override { return "remove-identity-ops"; }
  int level() const override { return 1; }
  Result<bool> run(Graph& g) override {
    Rewriter r(g);
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      if (!r.removed(n)) r.simplify(n);
    }
    return r.changed();
  }

 private:
  class Rewriter {
   public:
    explicit Rewriter(Graph& g) : g_(g), uses_(g) {}
    bool removed(const Node* n) const { return removed_.count(n) != 0; }
    bool changed() const { return changed_; }

    void simplify(Node* n) {
      if (!n->domain.empty() || n->num_outputs() == 0 || !n->output(0) || !n->input(0)) return;
      Value* in = n->input(0);
      Value* out = n->output(0);
      const std::string& op = n->op_type;
      if (op == "Identity") {
        bypass({n}, in, out);
      } else if (op == "Dropout") {
        if (dropout_passes_through(n)) bypass({n}, in, out);
      } else if (op == "Cast") {
        if (in->dtype != DataType::kUndefined && n->attrs.get_int("to", -1) == static_cast<int64_t>(in->dtype)) {
          bypass({n}, in, out);
        }
      } else if (op == "CastLike") {
        if (n->input(1) && in->dtype != DataType::kUndefined && n->input(1)->dtype == in->dtype) bypass({n}, in, out);
      } else if (op == "Reshape") {
        simplify_reshape(n);
      } else if (op == "Transpose") {
        simplify_transpose(n);
      } else if (op == "Squeeze" || op == "Unsqueeze") {
        cancel_squeeze_pair(n);
      }
    }

   private:
    // Before opset 12 kiln always runs Dropout as inference (is_test and friends only matter for
    // training); from 12 it is the identity unless training_mode may be true with a nonzero
    // ratio. Its mask output must be unread.
    bool dropout_passes_through(const Node* n) const {
      if (const Value* mask = n->output(1); mask && (!mask->uses().empty() || uses_.read_outside(mask))) return false;
      if (n->opset < 12) return true;
      const Value* training = n->input(2);
      if (!training || is_false_scalar(training)) return true;
      const Value* ratio = n->input(1);
      auto r = uniform_constant(ratio);
      return ratio && ratio->constant && ratio->constant->numel() == 1 && r && *r == 0;
    }

    void simplify_reshape(Node* n) {
      Value* out = n->output(0);
      if (same_shape(n->input(0)->shape, out->shape)) {
        bypass({n}, n->input(0), out);
        return;
      }
      if (transpose_of_merged_view(n)) return;
      // Reshape(Reshape(x, s1), s2) = Reshape(x, s2) when s2 has no 0 entry, which would copy a
      // dim of the Reshape's direct input (unless allowzero makes it a literal 0).
      Node* inner = producer_op(n->input(0), "Reshape");
      if (!inner || !inner->input(0)) return;
      auto target = reshape_target(n);
      if (!target) return;
      const bool allowzero = n->opset >= 14 && n->attrs.get_int("allowzero", 0) != 0;
      for (int64_t d : *target) {
        if (d == 0 && !allowzero) return;
      }
      Value* inner_out = inner->output(0);
      g_.set_input(n, 0, inner->input(0));
      changed_ = true;
      if (inner_out->uses().empty() && !uses_.read_outside(inner_out)) remove(inner);
      if (same_shape(n->input(0)->shape, out->shape)) bypass({n}, n->input(0), out);
    }

    // Reshape(Transpose(Reshape(x, [P, T..]), perm with perm[0] = 0), [A.., permuted T..]) where
    // x is [A.., T..]: the inner Reshape keeps x's trailing dims T, so P is the product of A
    // (the element count is unchanged), and the outer one splits P back into A. Together they
    // are Transpose(x) with the trailing dims permuted, which this node becomes. Dims are
    // compared as known sizes or the same symbol, so symbolic batch dims qualify.
    bool transpose_of_merged_view(Node* n) {
      Node* t = producer_op(n->input(0), "Transpose");
      if (!t || !t->input(0) || !uses_.single_use(t->output(0))) return false;
      Node* inner = producer_op(t->input(0), "Reshape");
      if (!inner || !inner->input(0) || !uses_.single_use(inner->output(0))) return false;
      auto perm = perm_of(t);
      Value* x = inner->input(0);
      const MaybeShape& xs = x->shape;
      const MaybeShape& ms = inner->output(0)->shape;
      const MaybeShape& ys = n->output(0)->shape;
      if (!perm || !xs || !ms || !ys || ms->size() < 2 || perm->size() != ms->size() || (*perm)[0] != 0) return false;
      if (xs->size() < ms->size() || ys->size() != xs->size()) return false;
      const size_t lead = xs->size() - (ms->size() - 1);  // the dims A that the inner Reshape merges
      const SymShape& x_dims = *xs;
      const SymShape& m_dims = *ms;
      const SymShape& y_dims = *ys;
      if (!same_shape(SymShape(x_dims.begin() + static_cast<long>(lead), x_dims.end()), SymShape(m_dims.begin() + 1, m_dims.end()))) return false;
      if (!same_shape(SymShape(x_dims.begin(), x_dims.begin() + static_cast<long>(lead)), SymShape(y_dims.begin(), y_dims.begin() + static_cast<long>(lead)))) {
        return false;
      }
      std::vector<int64_t> composed(xs->size());
      for (size_t i = 0; i < lead; ++i) composed[i] = static_cast<int64_t>(i);
      for (size_t j = 1; j < perm->size(); ++j) composed[lead + j - 1] = static_cast<int64_t>(lead) + (*perm)[j] - 1;
      for (size_t i = lead; i < xs->size(); ++i) {
        if (!same_shape(SymShape{y_dims[i]}, SymShape{x_dims[static_cast<size_t>(composed[i])]})) return false;
      }
      auto r = insert_replacement(g_, n, "", "Transpose", onnx_opset(g_), {x}, {n->output(0)}, {inner, t, n});
      if (!r.ok()) return false;
      (*r)->attrs.set_ints("perm", composed);
      remove(n);
      remove(t);
      remove(inner);
      changed_ = true;
      return true;
    }

    // A Transpose that moves only dims of size 1 leaves every element where it was: it is a
    // Reshape, which reads memory as is (a channels-last pooled [N,1,1,C] read back as [N,C,1,1]).
    bool reshape_instead(Node* n, const std::vector<int64_t>& perm) {
      const MaybeShape& in = n->input(0)->shape;
      Value* out = n->output(0);
      if (!in || in->size() != perm.size()) return false;
      int64_t last = -1;
      std::vector<int64_t> target;
      for (size_t i = 0; i < perm.size(); ++i) {
        const Dim& d = (*in)[static_cast<size_t>(perm[i])];
        if (d.is_known() && d.value == 1) {
          target.push_back(1);
          continue;
        }
        if (perm[i] < last) return false;  // two dims that are not 1 change order
        last = perm[i];
        // A dim of unknown size stays where it is, so Reshape's 0 (copy the input's dim) names it.
        if (!d.is_known() && perm[i] != static_cast<int64_t>(i)) return false;
        target.push_back(d.is_known() ? d.value : 0);
      }
      Value* shape = g_.add_constant(g_.unique_name(out->name() + "_shape"), int64_tensor(target));
      auto r = insert_replacement(g_, n, "", "Reshape", std::max(5, onnx_opset(g_)), {n->input(0), shape}, {out}, {n});
      if (!r.ok()) return false;
      remove(n);
      changed_ = true;
      return true;
    }

    void simplify_transpose(Node* n) {
      auto perm = perm_of(n);
      if (!perm) return;
      if (is_identity_perm(*perm)) {
        bypass({n}, n->input(0), n->output(0));
        return;
      }
      if (reshape_instead(n, *perm)) return;
      Node* inner = producer_op(n->input(0), "Transpose");
      if (!inner || !inner->input(0)) return;
      auto inner_perm = perm_of(inner);
      if (!inner_perm || inner_perm->size() != perm->size()) return;
      // Output dim i of the outer one is dim perm[i] of the inner output, which is dim
      // inner_perm[perm[i]] of the inner input.
      std::vector<int64_t> composed(perm->size());
      for (size_t i = 0; i < perm->size(); ++i) composed[i] = (*inner_perm)[static_cast<size_t>((*perm)[i])];
      const bool inner_only_here = uses_.single_use(inner->output(0));
      if (is_identity_perm(composed)) {
        if (inner_only_here) bypass({inner, n}, inner->input(0), n->output(0));
        else bypass({n}, inner->input(0), n->output(0));
        return;
      }
      if (!inner_only_here) return;  // both would still run: nothing gained
      g_.set_input(n, 0, inner->input(0));
      n->attrs.set_ints("perm", composed);
      n->fused_from.insert(n->fused_from.begin(), inner->fused_from.begin(), inner->fused_from.end());
      remove(inner);
      changed_ = true;
    }

    // Squeeze(Unsqueeze(x, a), a) and Unsqueeze(Squeeze(x, a), a) are x (the axes compared
    // after normalizing against the rank of the larger tensor).
    void cancel_squeeze_pair(Node* n) {
      const bool outer_squeezes = n->op_type == "Squeeze";
      Node* inner = producer_op(n->input(0), outer_squeezes ? "Unsqueeze" : "Squeeze");
      if (!inner || !inner->input(0)) return;
      auto outer_axes = axes_of(n);
      auto inner_axes = axes_of(inner);
      const MaybeShape& larger = outer_squeezes ? inner->output(0)->shape : inner->input(0)->shape;
      if (!outer_axes || !inner_axes || !larger) return;
      const auto rank = static_cast<int64_t>(larger->size());
      auto a = normalized_axes(*outer_axes, rank);
      auto b = normalized_axes(*inner_axes, rank);
      if (!a || !b || *a != *b || a->empty()) return;
      if (uses_.single_use(inner->output(0))) bypass({inner, n}, inner->input(0), n->output(0));
      else bypass({n}, inner->input(0), n->output(0));
    }

    // Removes `chain` (nodes from the one reading `in` to the one producing `out`, any values
    // between them read only inside the chain), so that `out`'s readers read `in`.
    void bypass(const std::vector<Node*>& chain, Value* in, Value* out) {
      if (!in || !out || in == out) return;
      if (in->dtype != DataType::kUndefined && out->dtype != DataType::kUndefined && in->dtype != out->dtype) return;
      if (!uses_.read_outside(out)) {
        g_.replace_all_uses(out, in);
      } else {
        // `out` keeps its name: in's producer produces it instead of `in`, when nothing but the
        // chain reads `in` (so `in` can disappear).
        std::set<const Node*> group(chain.begin(), chain.end());
        Node* p = in->producer();
        if (!p || in->is_graph_input() || in->is_constant() || in->is_outer_ref() || !uses_.used_only_by(in, group)) return;
        g_.set_output(p, in->producer_output(), out);
        // The producer now stands for the nodes it replaces as well.
        for (const Node* c : chain) p->fused_from.insert(p->fused_from.end(), c->fused_from.begin(), c->fused_from.end());
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) remove(*it);
      changed_ = true;
    }

    void remove(Node* n) {
      removed_.insert(n);
      g_.remove_node(n);
    }

    Graph& g_;
    GraphUses uses_;
    std::unordered_set<const Node*> removed_;
    bool changed_ = false;
  };
};

}  // namespace

std::unique_ptr<Pass> make_remove_identity_ops_pass() { return std::make_unique<RemoveIdentityOps>(); }

}  // namespace kiln
