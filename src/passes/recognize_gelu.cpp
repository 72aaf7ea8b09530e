// GELU, as exporters decompose it, becomes one ai.onnx Gelu (opset 20):
//   erf form   x · 0.5 · (1 + Erf(x / √2))            (torch nn.GELU(); also x · (1/√2))
//   tanh form  0.5x · (1 + Tanh(√(2/π) · (x + 0.044715 · x³)))   (GPT-2's NewGELU)
// The final product x · a · 0.5 is matched in each order exporters write it.
#include <cmath>
#include <numbers>

#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct Product {
  Value* out = nullptr;
  std::vector<Node*> nodes;
};

// x · a · 0.5 as two Muls: (x·a)·0.5, (a·0.5)·x, a·(x·0.5) (operands in either order).
std::optional<Product> match_half_product(Value* a, Value* x, const GraphUses& uses) {
  if (!uses.single_use(a)) return std::nullopt;
  Node* m1 = sole_consumer(a);
  if (!is_op(m1, "Mul")) return std::nullopt;
  Value* o = other_operand(m1, a);
  if (!o) return std::nullopt;
  if (Node* h = producer_op(o, "Mul"); h && uses.single_use(o) && other_operand(h, x) && is_constant_near(other_operand(h, x), 0.5)) {
    return Product{m1->output(0), {h, m1}};
  }
  if (o != x && !is_constant_near(o, 0.5)) return std::nullopt;
  if (!uses.single_use(m1->output(0))) return std::nullopt;
  Node* m2 = sole_consumer(m1->output(0));
  if (!is_op(m2, "Mul")) return std::nullopt;
  Value* o2 = other_operand(m2, m1->output(0));
  const bool ok = o == x ? is_constant_near(o2, 0.5) : o2 == x;
  if (!ok) return std::nullopt;
  return Product{m2->output(0), {m1, m2}};
}

// 1 + t, returning the sum.
Node* plus_one(Value* t, const GraphUses& uses) {
  if (!uses.single_use(t)) return nullptr;
  Node* add = sole_consumer(t);
  return is_op(add, "Add") && is_constant_near(other_operand(add, t), 1.0) ? add : nullptr;
}

struct GeluMatch {
  Value* x = nullptr;
  Value* out = nullptr;
  std::vector<Node*> nodes;
  bool tanh = false;
};

std::optional<GeluMatch> match_erf(Node* erf, const GraphUses& uses) {
  Value* in = erf->input(0);
  Node* scale = in ? in->producer() : nullptr;
  if (!scale || !uses.single_use(in)) return std::nullopt;
  Value* x = nullptr;
  if (is_op(scale, "Div") && is_constant_near(scale->input(1), std::numbers::sqrt2)) x = scale->input(0);
  if (is_op(scale, "Mul")) {
    for (size_t i = 0; i < 2; ++i) {
      if (is_constant_near(scale->input(1 - i), 1 / std::numbers::sqrt2)) x = scale->input(i);
    }
  }
  if (!x) return std::nullopt;
  Node* add = plus_one(erf->output(0), uses);
  if (!add) return std::nullopt;
  auto p = match_half_product(add->output(0), x, uses);
  if (!p) return std::nullopt;
  GeluMatch m{x, p->out, {scale, erf, add}, false};
  m.nodes.insert(m.nodes.end(), p->nodes.begin(), p->nodes.end());
  return m;
}

// x³ as Pow(x, 3) or x·x·x.
Node* cube_of(Value* c, Value** x_out) {
  if (Node* p = producer_op(c, "Pow"); p && is_constant_near(p->input(1), 3.0)) {
    *x_out = p->input(0);
    return p;
  }
  return nullptr;
}

std::optional<GeluMatch> match_tanh(Node* tanh, const GraphUses& uses) {
  Value* in = tanh->input(0);
  Node* scale = producer_op(in, "Mul");
  if (!scale || !uses.single_use(in)) return std::nullopt;
  Value* inner = nullptr;
  for (size_t i = 0; i < 2; ++i) {
    if (is_constant_near(scale->input(1 - i), std::sqrt(2 / std::numbers::pi))) inner = scale->input(i);
  }
  Node* sum = producer_op(inner, "Add");
  if (!sum || !uses.single_use(inner)) return std::nullopt;
  // x + 0.044715·x³: find which operand is the cubic term.
  for (size_t i = 0; i < 2; ++i) {
    Value* x = sum->input(i);
    Value* term = sum->input(1 - i);
    Node* mul = producer_op(term, "Mul");
    if (!mul || !uses.single_use(term)) continue;
    for (size_t j = 0; j < 2; ++j) {
      if (!is_constant_near(mul->input(1 - j), 0.044715)) continue;
      Value* cube = mul->input(j);
      Value* cx = nullptr;
      Node* pow = cube_of(cube, &cx);
      if (!pow || cx != x || !uses.single_use(cube)) continue;
      Node* add = plus_one(tanh->output(0), uses);
      if (!add) return std::nullopt;
      auto p = match_half_product(add->output(0), x, uses);
      if (!p) return std::nullopt;
      GeluMatch m{x, p->out, {pow, mul, sum, scale, tanh, add}, true};
      m.nodes.insert(m.nodes.end(), p->nodes.begin(), p->nodes.end());
      return m;
    }
  }
  return std::nullopt;
}

class RecognizeGelu final : public Pass {
 public:
  std::string name() const override { return "recognize-gelu"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* n) -> Result<std::vector<Node*>> {
      std::optional<GeluMatch> m;
      if (is_op(n, "Erf")) m = match_erf(n, uses);
      else if (is_op(n, "Tanh")) m = match_tanh(n, uses);
      if (!m || !is_float_type(m->x->dtype) || m->out->dtype != m->x->dtype) return std::vector<Node*>{};
      KILN_ASSIGN_OR_RETURN(Node * gelu, replace_nodes(g, m->nodes, "", "Gelu", 20, {m->x}, m->out));
      gelu->attrs.set_string("approximate", m->tanh ? "tanh" : "none");
      return m->nodes;
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_recognize_gelu_pass() { return std::make_unique<RecognizeGelu>(); }

}  // namespace kiln
