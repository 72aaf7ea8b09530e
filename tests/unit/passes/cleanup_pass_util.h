// Helpers for the cleanup and folding pass tests (CSE, identity removal, constant folding, BN
// folding): the optimized graph itself (to check output names and weights), seeded random
// constants, and an If whose branches read a value of the enclosing graph by name.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "unit/passes/pass_test_util.h"

namespace kiln::test {

// make()'s graph, inferred and put through only `passes` (plus dead-code elimination) at
// --opt-level 3, with the graph verified after each pass.
inline std::unique_ptr<Graph> optimized_graph(const GraphMaker& make, const std::vector<std::string>& passes) {
  auto g = make();
  Status s = optimize_with_only(*g, passes);
  EXPECT_TRUE(s.ok()) << s.message();
  return g;
}

inline std::vector<std::string> output_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Value* v : g.outputs()) names.push_back(v->name());
  return names;
}

inline const Node* find_node(const Graph& g, const std::string& op_type) {
  for (const auto& n : g.nodes()) {
    if (n->op_type == op_type) return n.get();
  }
  return nullptr;
}

// Uniform random values in [lo, hi) of a float dtype, from a fixed seed.
inline Tensor random_tensor(Dims dims, uint32_t seed, float lo = -1.f, float hi = 1.f, DataType dtype = DataType::kFloat32) {
  auto t = Tensor::allocate(dtype, std::move(dims));
  if (!t.ok()) std::abort();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Status s = dispatch_float(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < t->numel(); ++i) t->data_as<T>()[i] = static_cast<T>(u(rng));
    return ok_status();
  });
  if (!s.ok()) std::abort();
  return *t;
}

inline Attribute graph_attribute(std::shared_ptr<Graph> body) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = std::move(body);
  return a;
}

// y = If(cond) { outer } else { -outer }: both branches read `outer` from g by its name, as the
// importer leaves bodies that use an enclosing scope's value.
inline Value* if_reading(Graph& g, Value* cond, Value* outer, const std::string& y_name) {
  Value* y = g.add_value(y_name, outer->dtype, outer->shape);
  Node* n = op(g, "If", {cond}, {y});
  for (int branch = 0; branch < 2; ++branch) {
    auto body = std::make_shared<Graph>();
    body->name = branch == 0 ? "then" : "else";
    body->parent = &g;
    body->opset_imports[""] = g.opset_imports.at("");
    Value* ref = body->add_value(outer->name(), outer->dtype, outer->shape);
    body->add_outer_ref(ref);
    Value* out = body->add_value(body->name + "_out", outer->dtype, outer->shape);
    op(*body, branch == 0 ? "Identity" : "Neg", {ref}, {out});
    body->add_output(out);
    n->attrs.set(branch == 0 ? "then_branch" : "else_branch", graph_attribute(body));
  }
  return y;
}

}  // namespace kiln::test
