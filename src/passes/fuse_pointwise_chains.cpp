// Chains of elementwise ops, each read only by the next, become one kiln.FusedPointwise
// (docs/fused_ops.md): one pass over memory instead of one per op. Runs after the epilogue
// fusions, so it only takes what no layer absorbed (a mask computation, a GELU whose input has
// other readers, scaling and shifting between layers).
//
// The chain follows one running value; a binary step's other operand must broadcast to the
// running value's shape without enlarging it (so the output has the first input's shape).
#include <set>

#include "passes/activation_match.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

const std::set<std::string> kUnary = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs",
                                      "Erf", "Reciprocal", "Floor", "Ceil"};
const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};

struct Step {
  Node* node = nullptr;
  std::string op;
  Value* operand = nullptr;  // binary steps
  bool swapped = false;
  float alpha = 0, beta = 0;
};

// The step node n applies to the running value v, if n is one this pass can chain.
std::optional<Step> step_of(Node* n, const Value* v) {
  if (!n || !n->domain.empty() || n->num_outputs() != 1 || !n->output(0)) return std::nullopt;
  const Value* out = n->output(0);
  if (out->dtype != v->dtype || !same_shape(out->shape, v->shape)) return std::nullopt;
  Step s;
  s.node = n;
  if (kUnary.count(n->op_type) && n->num_inputs() == 1 && n->input(0) == v) {
    s.op = n->op_type;
    return s;
  }
  if (kBinary.count(n->op_type) && n->num_inputs() == 2) {
    Value* o = other_operand(n, v);
    if (!o || o->dtype != v->dtype || !broadcasts_into(o->shape, v->shape)) return std::nullopt;
    s.op = n->op_type;
    s.operand = o;
    s.swapped = n->input(1) == v;
    return s;
  }
  if (n->input(0) != v) return std::nullopt;
  if (auto act = activation_of_node(n)) {
    s.op = act->name;
    s.alpha = act->alpha;
    s.beta = act->beta;
    return s;
  }
  return std::nullopt;
}

class FusePointwiseChains final : public Pass {
 public:
  std::string name() const override { return "fuse-pointwise-chains"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* head) -> Result<std::vector<Node*>> {
      if (head->num_inputs() == 0 || !head->input(0)) return std::vector<Node*>{};
      // The head's running input: input 0, or for a binary op whichever input has its shape.
      Value* x = nullptr;
      std::optional<Step> first;
      for (size_t i = 0; i < head->num_inputs() && !first; ++i) {
        Value* cand = head->input(i);
        if (!cand || !is_float_type(cand->dtype)) continue;
        first = step_of(head, cand);
        if (first) x = cand;
      }
      if (!first) return std::vector<Node*>{};
      std::vector<Step> steps{*first};
      Value* v = head->output(0);
      while (uses.single_use(v)) {
        auto s = step_of(sole_consumer(v), v);
        if (!s) break;
        steps.push_back(*s);
        v = s->node->output(0);
      }
      if (steps.size() < 2) return std::vector<Node*>{};
      std::vector<Value*> ins{x};
      Attribute ops;
      ops.kind = Attribute::Kind::kStrings;
      std::vector<int64_t> operands, swapped;
      std::vector<float> alphas, betas;
      std::vector<Node*> nodes;
      for (const Step& s : steps) {
        int64_t idx = 0;
        if (s.operand) {
          auto it = std::find(ins.begin() + 1, ins.end(), s.operand);
          idx = it == ins.end() ? static_cast<int64_t>(ins.size()) : it - ins.begin();
          if (it == ins.end()) ins.push_back(s.operand);
        }
        ops.strings.push_back(s.op);
        operands.push_back(idx);
        swapped.push_back(s.swapped ? 1 : 0);
        alphas.push_back(s.alpha);
        betas.push_back(s.beta);
        nodes.push_back(s.node);
      }
      KILN_ASSIGN_OR_RETURN(Node * f, replace_nodes(g, nodes, "kiln", "FusedPointwise", 1, ins, v, head->name));
      f->attrs.set("ops", ops);
      f->attrs.set_ints("operands", operands);
      f->attrs.set_ints("swapped", swapped);
      f->attrs.set_floats("alphas", alphas);
      f->attrs.set_floats("betas", betas);
      return nodes;
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_pointwise_chains_pass() { return std::make_unique<FusePointwiseChains>(); }

}  // namespace kiln
