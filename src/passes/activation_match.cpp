#include "passes/activation_match.h"

#include <limits>

namespace kiln {

std::optional<ActivationMatch> activation_of_node(Node* n) {
  if (!n || !n->domain.empty() || n->num_outputs() != 1 || !n->input(0)) return std::nullopt;
  ActivationMatch m;
  m.nodes = {n};
  m.output = n->output(0);
  const std::string& op = n->op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") {
    m.name = op;
  } else if (op == "LeakyRelu") {
    m.name = op;
    m.alpha = n->attrs.get_float("alpha", 0.01f);
  } else if (op == "HardSigmoid") {
    m.name = op;
    m.alpha = n->attrs.get_float("alpha", 0.2f);
    m.beta = n->attrs.get_float("beta", 0.5f);
  } else if (op == "Gelu") {
    const std::string approx = n->attrs.get_string("approximate", "none");
    if (approx != "none" && approx != "tanh") return std::nullopt;
    m.name = approx == "tanh" ? "GeluTanh" : "Gelu";
  } else if (op == "Clip") {
    m.name = op;
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (n->opset < 11) {
      lo = n->attrs.get_float("min", lo);
      hi = n->attrs.get_float("max", hi);
    } else {
      for (size_t i = 1; i <= 2; ++i) {
        if (!n->input(i)) continue;
        auto c = uniform_constant(n->input(i));
        if (!c || n->input(i)->constant->numel() != 1) return std::nullopt;  // bounds known only at run time
        (i == 1 ? lo : hi) = static_cast<float>(*c);
      }
    }
    m.alpha = lo;
    m.beta = hi;
  } else {
    return std::nullopt;
  }
  // The fused activation computes in the layer's dtype; an op on another dtype cannot be one.
  if (m.output->dtype != n->input(0)->dtype) return std::nullopt;
  return m;
}

namespace {

// A two-input Max or Min of v and a one-element constant: the constant.
std::optional<float> bound_of(const Node* n, const char* op, const Value* v) {
  if (!is_op(n, op) || n->num_inputs() != 2) return std::nullopt;
  const Value* c = other_operand(n, v);
  auto x = uniform_constant(c);
  if (!x || c->constant->numel() != 1 || c->dtype != v->dtype) return std::nullopt;
  return static_cast<float>(*x);
}

// ReLU6 and friends written as Min(Max(v, lo), hi) or Max(Min(v, hi), lo): a Clip; Max(v, 0)
// alone: a Relu.
std::optional<ActivationMatch> min_max_clip(Node* first, const Value* v, const GraphUses& uses) {
  const bool max_first = is_op(first, "Max");
  auto b1 = bound_of(first, max_first ? "Max" : "Min", v);
  if (!b1) return std::nullopt;
  ActivationMatch m;
  m.nodes = {first};
  m.output = first->output(0);
  Node* second = uses.single_use(m.output) ? sole_consumer(m.output) : nullptr;
  auto b2 = bound_of(second, max_first ? "Min" : "Max", m.output);
  if (b2) {
    m.name = "Clip";
    m.alpha = max_first ? *b1 : *b2;
    m.beta = max_first ? *b2 : *b1;
    m.nodes.push_back(second);
    m.output = second->output(0);
    return m;
  }
  if (max_first && *b1 == 0.0f) {
    m.name = "Relu";
    return m;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ActivationMatch> match_activation(const Value* v, const GraphUses& uses) {
  if (!v || uses.read_outside(v)) return std::nullopt;
  if (v->uses().size() == 1) {
    Node* n = v->uses()[0].node;
    if (auto mm = min_max_clip(n, v, uses)) return mm;
    if (v->uses()[0].input_index != 0) return std::nullopt;
    return activation_of_node(n);
  }
  // SiLU: Mul(v, Sigmoid(v)), v read by exactly those two nodes.
  if (v->uses().size() != 2) return std::nullopt;
  Node* a = v->uses()[0].node;
  Node* b = v->uses()[1].node;
  Node* sig = is_op(a, "Sigmoid") ? a : (is_op(b, "Sigmoid") ? b : nullptr);
  Node* mul = sig == a ? b : a;
  if (!sig || !is_op(mul, "Mul") || !uses.single_use(sig->output(0))) return std::nullopt;
  if (other_operand(mul, v) != sig->output(0)) return std::nullopt;
  ActivationMatch m;
  m.name = "Silu";
  m.nodes = {sig, mul};
  m.output = mul->output(0);
  return m;
}

}  // namespace kiln
