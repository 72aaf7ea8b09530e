// Replaces a node whose inputs are all constants by constants holding its outputs, computed with
// the reference kernels, so folding can never change results. Large outputs are left alone
// (folding an Expand to a huge tensor would bloat the engine file).
//
// Shape and Size only read their input's shape: when inference knows the dims they report (all
// static, for example after a shape profile pins them), they fold even though the input is
// computed at run time, and whole Shape -> Gather -> Concat -> Reshape chains fold after them.
#include <optional>

#include "fmt/format.h"
#include "ir/op_schema.h"
#include "passes/pass.h"
#include "passes/pattern.h"
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

// The value of a Shape or Size node as its schema's inference computes it from the input's shape
// alone, or nothing when the dims it reports are not all known (Shape with start/end needs only
// its slice of the dims).
std::optional<Tensor> value_from_input_shape(const Node& n) {
  if (!(is_op(&n, "Shape") || is_op(&n, "Size")) || n.num_outputs() != 1 || !n.output(0)) return std::nullopt;
  const Value* in = n.input(0);
  if (!in || !in->shape || !n.schema->infer) return std::nullopt;
  ValueState state;
  state.dtype = in->dtype;
  state.shape = in->shape;
  InferenceContext ctx(n, {&state});
  if (!n.schema->infer(ctx).ok() || ctx.outputs().empty()) return std::nullopt;
  return ctx.outputs()[0].value;
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
      if (!all_const) {
        if (std::optional<Tensor> v = value_from_input_shape(*n)) {
          Value* o = n->output(0);
          o->dtype = v->dtype();
          o->shape = sym_shape(v->shape());
          o->constant = std::move(*v);
          g.remove_node(n);
          changed = true;
        }
        continue;
      }
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
