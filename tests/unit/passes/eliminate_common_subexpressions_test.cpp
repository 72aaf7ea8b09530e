#include "unit/passes/cleanup_pass_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kCse = {"eliminate-common-subexpressions"};

SymShape shape23() { return sym_shape({2, 3}); }

TEST(CsePass, TwoIdenticalReluBecomeOne) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* a = g->add_value("a");
    Value* b = g->add_value("b");
    Value* y = g->add_value("y");
    op(*g, "Relu", {x}, {a}, "relu_a");
    op(*g, "Relu", {x}, {b}, "relu_b");
    op(*g, "Add", {a, b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Add"}));
  // The surviving Relu stands for both.
  EXPECT_EQ(r.fused[0], (std::vector<std::string>{"relu_a", "relu_b"}));
}

TEST(CsePass, ForwardSweepMergesWholeChains) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* outs[2];
    for (int i = 0; i < 2; ++i) {
      Value* r = g->add_value("r" + std::to_string(i));
      Value* s = g->add_value("s" + std::to_string(i));
      outs[i] = g->add_value("t" + std::to_string(i));
      op(*g, "Relu", {x}, {r});
      op(*g, "Sigmoid", {r}, {s});
      Node* sm = op(*g, "Softmax", {s}, {outs[i]});
      sm->attrs.set_int("axis", 1);
    }
    Value* y = g->add_value("y");
    op(*g, "Sub", {outs[0], outs[1]}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Sigmoid", "Softmax", "Sub"}));
}

TEST(CsePass, EqualConstantsMakeReadersMergeable) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* c1 = g->add_constant("c1", f32({3}, {0.5f, -2.f, 3.f}));
    Value* c2 = g->add_constant("c2", f32({3}, {0.5f, -2.f, 3.f}));
    Value* a = g->add_value("a");
    Value* b = g->add_value("b");
    Value* y = g->add_value("y");
    op(*g, "Mul", {x, c1}, {a});
    op(*g, "Mul", {x, c2}, {b});
    op(*g, "Add", {a, b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Mul", "Add"}));
}

TEST(CsePass, DifferentConstantsOrAttributesAreNotMerged) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    // Same bytes but another shape, and another value: neither is the first constant.
    Value* c1 = g->add_constant("c1", f32({3}, {1.f, 2.f, 3.f}));
    Value* c2 = g->add_constant("c2", f32({1, 3}, {1.f, 2.f, 3.f}));
    Value* c3 = g->add_constant("c3", f32({3}, {1.f, 2.f, 4.f}));
    std::vector<Value*> parts;
    for (Value* c : {c1, c2, c3}) {
      parts.push_back(g->add_value("m_" + c->name()));
      op(*g, "Mul", {x, c}, {parts.back()});
    }
    // LeakyRelu differing only in alpha; Softmax differing only in axis.
    for (float alpha : {0.1f, 0.2f}) {
      parts.push_back(g->add_value(g->unique_name("lr")));
      op(*g, "LeakyRelu", {x}, {parts.back()})->attrs.set_float("alpha", alpha);
    }
    for (int64_t axis : {0, 1}) {
      parts.push_back(g->add_value(g->unique_name("sm")));
      op(*g, "Softmax", {x}, {parts.back()})->attrs.set_int("axis", axis);
    }
    Value* y = g->add_value("y");
    op(*g, "Sum", parts, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Mul"), 3u);
  EXPECT_EQ(r.count("LeakyRelu"), 2u);
  EXPECT_EQ(r.count("Softmax"), 2u);
}

TEST(CsePass, LaterGraphOutputKeepsItsName) {
  // relu_b's output is the graph output "y2"; relu_a's output feeds y1. After merging, the one
  // Relu produces "y2" and the Sigmoid reads it.
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* a = g->add_value("a");
    Value* y1 = g->add_value("y1");
    Value* y2 = g->add_value("y2");
    op(*g, "Relu", {x}, {a});
    op(*g, "Sigmoid", {a}, {y1});
    op(*g, "Relu", {x}, {y2});
    g->add_output(y1);
    g->add_output(y2);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Sigmoid"}));
  auto g = optimized_graph(make, kCse);
  EXPECT_EQ(output_names(*g), (std::vector<std::string>{"y1", "y2"}));
  EXPECT_EQ(g->find_value("y2")->producer()->op_type, "Relu");
}

TEST(CsePass, TwoGraphOutputsOfEqualNodesBothStay) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* y1 = g->add_value("y1");
    Value* y2 = g->add_value("y2");
    op(*g, "Relu", {x}, {y1});
    op(*g, "Relu", {x}, {y2});
    g->add_output(y1);
    g->add_output(y2);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Relu"), 2u);
  EXPECT_EQ(output_names(*optimized_graph(make, kCse)), (std::vector<std::string>{"y1", "y2"}));
}

TEST(CsePass, ValueReadBySubgraphKeepsItsName) {
  // The second Relu's output is read only by an If branch, by name: it must still exist after
  // the merge (the first Relu produces it).
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* cond = input(*g, "cond", DataType::kBool, SymShape{});
    Value* a = g->add_value("a", DataType::kFloat32, shape23());
    Value* b = g->add_value("b", DataType::kFloat32, shape23());
    Value* y1 = g->add_value("y1");
    op(*g, "Relu", {x}, {a});
    op(*g, "Sigmoid", {a}, {y1});
    op(*g, "Relu", {x}, {b});
    Value* y2 = if_reading(*g, cond, b, "y2");
    g->add_output(y1);
    g->add_output(y2);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Relu"), 1u);
  auto g = optimized_graph(make, kCse);
  ASSERT_NE(g->find_value("b"), nullptr);
  ASSERT_NE(g->find_value("b")->producer(), nullptr);
}

TEST(CsePass, NodesWithSubgraphsAreNotMerged) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, shape23());
    Value* cond = input(*g, "cond", DataType::kBool, SymShape{});
    Value* y1 = if_reading(*g, cond, x, "y1");
    Value* y2 = if_reading(*g, cond, x, "y2");
    Value* y = g->add_value("y");
    op(*g, "Add", {y1, y2}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kCse);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("If"), 2u);
}

TEST(CsePass, RandomAndUnknownOpsAreNotMerged) {
  // kiln has no random ops; a schema marked non-deterministic stands in for RandomUniformLike,
  // and a node without a schema (an op kiln does not know) is never merged either.
  OpSchema random_schema;
  random_schema.op_type = "RandomUniformLike";
  random_schema.min_inputs = random_schema.max_inputs = 1;
  random_schema.deterministic = false;
  auto g = new_graph();
  Value* x = input(*g, "x", DataType::kFloat32, shape23());
  std::vector<Value*> outs;
  for (int i = 0; i < 4; ++i) outs.push_back(g->add_value("r" + std::to_string(i), DataType::kFloat32, shape23()));
  op(*g, "RandomUniformLike", {x}, {outs[0]})->schema = &random_schema;
  op(*g, "RandomUniformLike", {x}, {outs[1]})->schema = &random_schema;
  op(*g, "MysteryOp", {x}, {outs[2]})->schema = nullptr;
  op(*g, "MysteryOp", {x}, {outs[3]})->schema = nullptr;
  Value* y = g->add_value("y", DataType::kFloat32, shape23());
  op(*g, "Sum", outs, {y});
  g->add_output(y);
  auto pass = make_eliminate_common_subexpressions_pass();
  auto changed = pass->run(*g);
  ASSERT_TRUE(changed.ok()) << changed.status().message();
  EXPECT_FALSE(*changed);
  EXPECT_EQ(g->num_nodes(), 5u);
  EXPECT_TRUE(g->verify().ok());
}

TEST(CsePass, OverridableInitializersAreNotShared) {
  // A constant that is also a graph input can be fed at run time: it is not interchangeable
  // with an equal constant.
  auto g = new_graph();
  Value* x = input(*g, "x", DataType::kFloat32, shape23());
  Value* c1 = g->add_constant("c1", f32({3}, {1.f, 2.f, 3.f}));
  Value* c2 = g->add_constant("c2", f32({3}, {1.f, 2.f, 3.f}));
  g->add_input(c2);
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* y = g->add_value("y");
  op(*g, "Mul", {x, c1}, {a});
  op(*g, "Mul", {x, c2}, {b});
  op(*g, "Add", {a, b}, {y});
  g->add_output(y);
  auto changed = make_eliminate_common_subexpressions_pass()->run(*g);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(g->num_nodes(), 3u);
}

}  // namespace
}  // namespace kiln::test
