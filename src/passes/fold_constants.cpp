// Replaces a node whose inputs are all constants by constants holding its outputs, computed with
// the reference kernels, so folding can never change results. Large outputs are left alone
// (folding an Expand to a huge tensor would bloat the engine file).
#include "fmt/format.h"
#include "ir/op_schema.h"
#include "passes/pass.h"
#include "runtime/engine_state.h"

namespace kiln {

namespace {

constexpr int64_t kMaxFoldedElements = int64_t{1} << 22;

bool has_subgraph(const Node& n) {
  for (const auto& [k, a] : n.attrs.all()) {
    if (a.g || !a.graphs.empty()) return true;
  }
  return false;
}

class FoldConstants final : public Pass {
 public:
  std::string name() const override { return "fold-constants"; }
  int level() const override { return 1; }
  Result<bool> run(Graph& g) override {
    bool changed = false;
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      if (!n->schema || !n->schema->deterministic || has_subgraph(*n) || n->num_outputs() == 0) continue;
      bool all_const = true;
      std::vector<const Tensor*> ins;
      for (const Value* v : n->inputs()) {
        if (v && !v->is_constant()) all_const = false;
        ins.push_back(v ? &*v->constant : nullptr);
      }
      if (!all_const) continue;
      auto r = evaluate_node(*n, ins);
      if (!r.ok() || !r->has_value()) continue;  // leave it to the runtime to report
      std::vector<Tensor>& outs = **r;
      int64_t total = 0;
      for (const Tensor& t : outs) total += t.numel();
      if (total > kMaxFoldedElements) continue;
      // The outputs become constants under their own names (graph outputs keep their names).
      for (size_t i = 0; i < n->num_outputs() && i < outs.size(); ++i) {
        Value* o = n->output(i);
        if (!o) continue;
        o->dtype = outs[i].dtype();
        o->shape = sym_shape(outs[i].shape());
        o->constant = std::move(outs[i]);
      }
      g.remove_node(n);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_constants_pass() { return std::make_unique<FoldConstants>(); }

}  // namespace kiln
