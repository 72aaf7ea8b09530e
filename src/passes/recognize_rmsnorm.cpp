// RMSNorm, decomposed, becomes one kiln.RMSNormalization (docs/fused_ops.md):
//   s = Sqrt(ReduceMean(x^2) + eps);  y = x / s  (or x · Reciprocal(s), or x · (1 / s))  [· gamma]
// over the last k axes; gamma a constant of exactly the normalized dims (ones when missing).
// recognize-layernorm runs first: LayerNorm's variance branch has this shape too.
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct RmsMatch {
  Value* x = nullptr;
  Value* gamma = nullptr;
  Value* out = nullptr;
  float eps = 0;
  size_t k = 0;
  std::vector<Node*> nodes;
};

// x / s, x · Reciprocal(s) or x · Div(1, s), where s is read only here; appends the nodes.
Value* divide_by(Value* x, Value* s, const GraphUses& uses, std::vector<Node*>* nodes) {
  if (!uses.single_use(s)) return nullptr;
  Node* c = sole_consumer(s);
  if (is_op(c, "Div") && c->input(0) == x && c->input(1) == s) {
    nodes->push_back(c);
    return c->output(0);
  }
  Value* r = nullptr;
  if (is_op(c, "Reciprocal")) r = c->output(0);
  if (is_op(c, "Div") && c->input(1) == s && is_constant_near(c->input(0), 1.0)) r = c->output(0);
  if (!r || !uses.single_use(r)) return nullptr;
  Node* mul = sole_consumer(r);
  if (!is_op(mul, "Mul") || other_operand(mul, r) != x) return nullptr;
  nodes->push_back(c);
  nodes->push_back(mul);
  return mul->output(0);
}

std::optional<RmsMatch> match(Node* square, const GraphUses& uses) {
  RmsMatch m;
  if (is_op(square, "Pow") && is_constant_near(square->input(1), 2.0)) m.x = square->input(0);
  else if (is_op(square, "Mul") && square->input(0) == square->input(1)) m.x = square->input(0);
  if (!m.x || !uses.single_use(square->output(0))) return std::nullopt;
  Node* mean = sole_consumer(square->output(0));
  auto k = reduce_mean_trailing_axes(mean);
  if (!k || mean->input(0) != square->output(0)) return std::nullopt;
  m.k = *k;
  m.nodes = {square, mean};
  Node* sq = sqrt_of_plus_epsilon(mean->output(0), uses, &m.eps, &m.nodes);
  if (!sq) return std::nullopt;
  m.out = divide_by(m.x, sq->output(0), uses, &m.nodes);
  if (!m.out) return std::nullopt;
  if (Node* mul = trailing_dims_affine(m.out, "Mul", m.x, m.k, uses)) {
    m.gamma = other_operand(mul, m.out);
    m.nodes.push_back(mul);
    m.out = mul->output(0);
  }
  return m;
}

class RecognizeRmsNorm final : public Pass {
 public:
  std::string name() const override { return "recognize-rmsnorm"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* n) -> Result<std::vector<Node*>> {
      auto m = (is_op(n, "Pow") || is_op(n, "Mul")) ? match(n, uses) : std::nullopt;
      if (!m || !is_float_type(m->x->dtype) || m->out->dtype != m->x->dtype) return std::vector<Node*>{};
      if (!m->gamma) m->gamma = ones_for_trailing_dims(g, m->x, m->k, n->name + "_scale");
      if (!m->gamma) return std::vector<Node*>{};
      KILN_ASSIGN_OR_RETURN(Node * rms, replace_nodes(g, m->nodes, "kiln", "RMSNormalization", 1, {m->x, m->gamma}, m->out, n->name));
      rms->attrs.set_int("axis", -static_cast<int64_t>(m->k));
      rms->attrs.set_float("epsilon", m->eps);
      return m->nodes;
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_recognize_rmsnorm_pass() { return std::make_unique<RecognizeRmsNorm>(); }

}  // namespace kiln
