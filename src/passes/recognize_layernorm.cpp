// LayerNorm, decomposed as exporters write it, becomes one ai.onnx LayerNormalization (opset 17):
//   m = ReduceMean(x); d = x - m; v = ReduceMean(d^2); y = d / Sqrt(v + eps) [· gamma] [+ beta]
// over the last k axes (d^2 as Pow(d, 2) or d·d). gamma and beta must be constants of exactly
// the normalized dims; a missing gamma becomes ones.
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct LayerNormMatch {
  Value* x = nullptr;
  Value* gamma = nullptr;
  Value* beta = nullptr;
  Value* out = nullptr;
  float eps = 0;
  size_t k = 0;
  std::vector<Node*> nodes;
};

std::optional<LayerNormMatch> match(Node* mean, const GraphUses& uses) {
  auto k = reduce_mean_trailing_axes(mean);
  Value* x = mean->input(0);
  if (!k || !uses.single_use(mean->output(0))) return std::nullopt;
  Node* sub = sole_consumer(mean->output(0));
  if (!is_op(sub, "Sub") || sub->input(0) != x || sub->input(1) != mean->output(0)) return std::nullopt;
  Value* d = sub->output(0);
  if (uses.read_outside(d) || (d->uses().size() != 2 && d->uses().size() != 3)) return std::nullopt;
  Node* square = nullptr;
  Node* div = nullptr;
  for (const Use& u : d->uses()) {
    Node* n = u.node;
    if (is_op(n, "Pow") && n->input(0) == d && is_constant_near(n->input(1), 2.0)) square = n;
    else if (is_op(n, "Mul") && n->input(0) == d && n->input(1) == d) square = n;
    else if (is_op(n, "Div") && n->input(0) == d && u.input_index == 0) div = n;
  }
  if (!square || !div) return std::nullopt;
  const size_t expected_uses = is_op(square, "Mul") ? 3 : 2;
  if (d->uses().size() != expected_uses) return std::nullopt;
  LayerNormMatch m;
  m.x = x;
  m.k = *k;
  m.nodes = {mean, sub, square};
  if (!uses.single_use(square->output(0))) return std::nullopt;
  Node* var = sole_consumer(square->output(0));
  if (reduce_mean_trailing_axes(var) != k || var->input(0) != square->output(0)) return std::nullopt;
  m.nodes.push_back(var);
  Node* sq = sqrt_of_plus_epsilon(var->output(0), uses, &m.eps, &m.nodes);
  if (!sq || !uses.single_use(sq->output(0)) || div->input(1) != sq->output(0)) return std::nullopt;
  m.nodes.push_back(div);
  m.out = div->output(0);
  // Optional · gamma, then + beta.
  if (Node* mul = trailing_dims_affine(m.out, "Mul", x, m.k, uses)) {
    m.gamma = other_operand(mul, m.out);
    m.nodes.push_back(mul);
    m.out = mul->output(0);
  }
  if (Node* add = trailing_dims_affine(m.out, "Add", x, m.k, uses)) {
    m.beta = other_operand(add, m.out);
    m.nodes.push_back(add);
    m.out = add->output(0);
  }
  return m;
}

class RecognizeLayerNorm final : public Pass {
 public:
  std::string name() const override { return "recognize-layernorm"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* n) -> Result<std::vector<Node*>> {
      auto m = is_op(n, "ReduceMean") ? match(n, uses) : std::nullopt;
      if (!m || !is_float_type(m->x->dtype) || m->out->dtype != m->x->dtype) return std::vector<Node*>{};
      if (!m->gamma) m->gamma = ones_for_trailing_dims(g, m->x, m->k, n->name + "_scale");
      if (!m->gamma) return std::vector<Node*>{};
      std::vector<Value*> ins{m->x, m->gamma};
      if (m->beta) ins.push_back(m->beta);
      KILN_ASSIGN_OR_RETURN(Node * ln, replace_nodes(g, m->nodes, "", "LayerNormalization", 17, ins, m->out, n->name));
      ln->attrs.set_int("axis", -static_cast<int64_t>(m->k));
      ln->attrs.set_float("epsilon", m->eps);
      return m->nodes;
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_recognize_layernorm_pass() { return std::make_unique<RecognizeLayerNorm>(); }

}  // namespace kiln
