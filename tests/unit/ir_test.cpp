// The IR: Graph editing, topological order, verification, subgraph reads, the printer.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/printer.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;
using test::op;

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> v;
  for (const auto& n : g.nodes()) v.push_back(n->name);
  return v;
}

TEST(Graph, ValuesHaveUniqueNames) {
  Graph g;
  Value* a = g.add_value("x");
  Value* b = g.add_value("x");
  EXPECT_EQ(a->name(), "x");
  EXPECT_NE(b->name(), "x");
  EXPECT_EQ(g.find_value(b->name()), b);
  EXPECT_EQ(g.find_value("x"), a);
  EXPECT_EQ(g.find_value("nope"), nullptr);
  Value* c = g.add_constant("w", test::f32({2}, {1, 2}));
  EXPECT_TRUE(c->is_constant());
  EXPECT_EQ(c->dtype, DataType::kFloat32);
  ASSERT_TRUE(c->shape.has_value());
  EXPECT_EQ(static_dims(*c->shape), (Dims{2}));
}

TEST(Graph, AddNodeWiresProducersAndUses) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* y = g->add_value("y");
  Value* z = g->add_value("z");
  Node* r = op(*g, "Relu", {x}, {y}, "r");
  Node* a = op(*g, "Add", {y, y}, {z}, "a");
  g->add_output(z);
  EXPECT_EQ(y->producer(), r);
  EXPECT_EQ(z->producer(), a);
  ASSERT_EQ(y->uses().size(), 2u);
  EXPECT_EQ(y->uses()[0].node, a);
  EXPECT_EQ(y->uses()[1].input_index, 1u);
  EXPECT_TRUE(x->is_graph_input());
  EXPECT_TRUE(z->is_graph_output());
  EXPECT_TRUE(g->verify().ok());
}

TEST(Graph, RemoveNodeDropsDeadValues) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* y = g->add_value("y");
  Value* dead = g->add_value("dead");
  op(*g, "Relu", {x}, {y}, "keep");
  Node* d = op(*g, "Neg", {x}, {dead}, "drop");
  g->add_output(y);
  ASSERT_EQ(x->uses().size(), 2u);
  g->remove_node(d);
  EXPECT_EQ(node_names(*g), std::vector<std::string>{"keep"});
  EXPECT_EQ(x->uses().size(), 1u);
  EXPECT_EQ(g->find_value("dead"), nullptr);  // no producer, no use, no role: removed
  EXPECT_NE(g->find_value("y"), nullptr);
  EXPECT_TRUE(g->verify().ok());
}

TEST(Graph, ReplaceAllUsesMovesUsesAndOutputs) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* c = g->add_value("c");
  op(*g, "Relu", {x}, {a}, "ra");
  op(*g, "Neg", {x}, {b}, "nb");
  Node* use = op(*g, "Add", {a, a}, {c}, "add");
  g->add_output(c);
  g->add_output(a);
  g->replace_all_uses(a, b);
  EXPECT_EQ(use->input(0), b);
  EXPECT_EQ(use->input(1), b);
  EXPECT_TRUE(a->uses().empty());
  EXPECT_EQ(b->uses().size(), 2u);
  EXPECT_EQ(g->outputs()[1], b);
  EXPECT_FALSE(a->is_graph_output());
  EXPECT_TRUE(b->is_graph_output());
  EXPECT_TRUE(g->verify().ok());
}

TEST(Graph, TopologicalSortIsStable) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* c = g->add_value("c");
  Value* d = g->add_value("d");
  // Written consumer-first: n_use reads a, which n_a produces later.
  op(*g, "Add", {a, b}, {c}, "n_use");
  op(*g, "Relu", {x}, {d}, "n_indep");  // independent: must keep its place relative to n_a / n_b
  op(*g, "Neg", {x}, {a}, "n_a");
  op(*g, "Abs", {x}, {b}, "n_b");
  g->add_output(c);
  g->add_output(d);
  Status before = g->verify();
  EXPECT_FALSE(before.ok());
  EXPECT_TRUE(contains(before.message(), "n_use")) << before.message();
  EXPECT_TRUE(contains(before.message(), "'a'")) << before.message();
  ASSERT_TRUE(g->topological_sort().ok());
  EXPECT_EQ(node_names(*g), (std::vector<std::string>{"n_indep", "n_a", "n_b", "n_use"}));
  EXPECT_TRUE(g->verify().ok());
  // Already sorted: sorting again changes nothing.
  ASSERT_TRUE(g->topological_sort().ok());
  EXPECT_EQ(node_names(*g), (std::vector<std::string>{"n_indep", "n_a", "n_b", "n_use"}));
}

TEST(Graph, TopologicalSortNamesANodeOnACycle) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* y = g->add_value("y");
  op(*g, "Relu", {x}, {y}, "fine");
  op(*g, "Add", {x, b}, {a}, "loop_a");
  op(*g, "Neg", {a}, {b}, "loop_b");
  g->add_output(y);
  Status s = g->topological_sort();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "cycle")) << s.message();
  EXPECT_TRUE(contains(s.message(), "loop_a") || contains(s.message(), "loop_b")) << s.message();
  EXPECT_FALSE(contains(s.message(), "'fine'")) << s.message();
}

TEST(Graph, VerifyFindsUnproducedOutput) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* y = g->add_value("y");
  Value* orphan = g->add_value("orphan");
  op(*g, "Relu", {x}, {y});
  g->add_output(y);
  EXPECT_TRUE(g->verify().ok());
  g->add_output(orphan);
  Status s = g->verify();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "orphan")) << s.message();
}

Attribute graph_attr(std::shared_ptr<Graph> g) {
  Attribute a;
  a.kind = Attribute::Kind::kGraph;
  a.g = std::move(g);
  return a;
}

TEST(Graph, NamesReadBySubgraphsAtAnyDepth) {
  auto g = test::new_graph();
  Value* cond = test::input(*g, "cond", DataType::kBool, SymShape{});
  Value* outer1 = g->add_constant("outer1", test::f32({2}, {1}));
  Value* outer2 = g->add_constant("outer2", test::f32({2}, {2}));
  Value* y = g->add_value("y");

  // then: reads outer1 directly; its own nested If reads outer2.
  auto then_g = std::make_shared<Graph>();
  then_g->name = "then";
  then_g->parent = g.get();
  Value* r1 = then_g->add_value("outer1", DataType::kFloat32, sym_shape({2}));
  then_g->add_outer_ref(r1);
  auto inner = std::make_shared<Graph>();
  inner->name = "inner";
  Value* r2 = inner->add_value("outer2", DataType::kFloat32, sym_shape({2}));
  inner->add_outer_ref(r2);
  inner->add_output(r2);
  Value* t_out = then_g->add_value("t_out");
  Node* nested = then_g->add_node("If", {}, {t_out}, "nested");
  nested->attrs.set("then_branch", graph_attr(inner));
  then_g->add_output(r1);

  auto else_g = std::make_shared<Graph>();
  else_g->name = "else";
  else_g->add_output(else_g->add_constant("c", test::f32({2}, {0})));
  Node* n = op(*g, "If", {cond}, {y}, "if");
  n->attrs.set("then_branch", graph_attr(then_g));
  n->attrs.set("else_branch", graph_attr(else_g));
  g->add_output(y);

  EXPECT_EQ(g->names_read_by_subgraphs(), (std::set<std::string>{"outer1", "outer2"}));
  // Values read only from inside bodies stay alive when dead values are dropped.
  g->remove_dead_values();
  EXPECT_EQ(g->find_value("outer1"), outer1);
  EXPECT_EQ(g->find_value("outer2"), outer2);
  int visited = 0;
  g->for_each_subgraph([&](Graph&) { ++visited; });
  EXPECT_EQ(visited, 3);  // then, inner, else
}

TEST(Printer, ShowsOpsTypesAndAttributes) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(3)});
  Value* w = g->add_constant("w", test::f32({3}, {1, 2, 3}));
  Value* y = g->add_value("y", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(3)});
  Value* z = g->add_value("z", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(3)});
  op(*g, "Mul", {x, w}, {y}, "scale");
  Node* s = op(*g, "Softmax", {y}, {z}, "sm");
  s->attrs.set_int("axis", -1);
  g->add_output(z);
  const std::string text = print_graph(*g);
  EXPECT_TRUE(contains(text, "x: float32[batch,3]")) << text;
  EXPECT_TRUE(contains(text, "Mul(%x, %w[const float32[3]])")) << text;
  EXPECT_TRUE(contains(text, "Softmax(%y)")) << text;
  EXPECT_TRUE(contains(text, "axis=-1")) << text;
  EXPECT_TRUE(contains(text, "z: float32[batch,3]")) << text;
}

}  // namespace
}  // namespace kiln
