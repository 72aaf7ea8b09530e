#include <limits>

#include "unit/passes/cleanup_pass_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kRemove = {"remove-identity-ops"};

Value* v(Graph& g, const std::string& name) { return g.add_value(name); }

TEST(RemoveIdentityOpsPass, PassThroughOpsGo) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* c = v(*g, "c");
    Value* d = v(*g, "d");
    Value* e = v(*g, "e");
    Value* f = v(*g, "f");
    Value* h = v(*g, "h");
    Value* y = v(*g, "y");
    op(*g, "Identity", {x}, {a});
    op(*g, "Relu", {a}, {b});
    op(*g, "Dropout", {b}, {c});  // no training_mode input: inference
    op(*g, "Cast", {c}, {d})->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat32));
    op(*g, "Reshape", {d, g->add_constant("target", i64({3}, {2, -1, 4}))}, {e});
    op(*g, "Transpose", {e}, {f})->attrs.set_ints("perm", {0, 1, 2});
    op(*g, "CastLike", {f, x}, {h});
    op(*g, "Neg", {h}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Neg"}));
}

TEST(RemoveIdentityOpsPass, ReshapeToSameSymbolicShapeGoes) {
  // [batch, 3, 4] reshaped with 0 (copy the batch dim): the same shape, symbol for symbol.
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(3), Dim::known(4)});
    Value* a = v(*g, "a");
    Value* y = v(*g, "y");
    op(*g, "Reshape", {x, g->add_constant("target", i64({3}, {0, 3, -1}))}, {a});
    op(*g, "Relu", {a}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove, {{"batch", 5}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
}

TEST(RemoveIdentityOpsPass, OldOpsetDropoutGoes) {
  auto make = [] {
    auto g = new_graph(11);
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* a = v(*g, "a");
    Value* y = v(*g, "y");
    op(*g, "Dropout", {x}, {a})->attrs.set_float("ratio", 0.3f);
    op(*g, "Relu", {a}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
}

TEST(RemoveIdentityOpsPass, DropoutThatMayTrainOrWhoseMaskIsReadStays) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* training = input(*g, "training", DataType::kBool, SymShape{});
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* mask = v(*g, "mask");
    op(*g, "Dropout", {x, g->add_constant("ratio", f32({}, {0.5f})), training}, {a});
    op(*g, "Dropout", {a}, {b, mask});
    g->add_output(b);
    g->add_output(mask);
    return g;
  };
  auto g = optimized_graph(make, kRemove);
  EXPECT_EQ(g->num_nodes(), 2u);
}

TEST(RemoveIdentityOpsPass, ConstantFalseTrainingModeDropoutGoes) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* a = v(*g, "a");
    Value* y = v(*g, "y");
    Tensor no = *Tensor::allocate(DataType::kBool, {});
    op(*g, "Dropout", {x, g->add_constant("ratio", f32({}, {0.5f})), g->add_constant("training", no)}, {a});
    op(*g, "Exp", {a}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Exp"}));
}

TEST(RemoveIdentityOpsPass, RealCastsAndReshapesStay) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* c = v(*g, "c");
    Value* y = v(*g, "y");
    op(*g, "Cast", {x}, {a})->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat16));
    op(*g, "Cast", {a}, {b})->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat32));
    op(*g, "Reshape", {b, g->add_constant("target", i64({2}, {6, 4}))}, {c});
    op(*g, "Transpose", {c}, {y})->attrs.set_ints("perm", {1, 0});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Cast", "Cast", "Reshape", "Transpose"}));
}

TEST(RemoveIdentityOpsPass, InverseTransposesCancel) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Transpose", {x}, {a})->attrs.set_ints("perm", {1, 2, 0});
    op(*g, "Transpose", {a}, {b})->attrs.set_ints("perm", {2, 0, 1});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
}

TEST(RemoveIdentityOpsPass, TransposePairComposes) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Transpose", {x}, {a}, "t1")->attrs.set_ints("perm", {1, 0, 2});
    op(*g, "Transpose", {a}, {b}, "t2")->attrs.set_ints("perm", {0, 2, 1});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "Relu"}));
  EXPECT_EQ(r.fused[0], (std::vector<std::string>{"t1", "t2"}));
}

TEST(RemoveIdentityOpsPass, TransposeWithAnotherReaderIsNotComposed) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Transpose", {x}, {a})->attrs.set_ints("perm", {1, 0, 2});
    op(*g, "Transpose", {a}, {b})->attrs.set_ints("perm", {0, 2, 1});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    g->add_output(a);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Transpose"), 2u);
}

TEST(RemoveIdentityOpsPass, ReshapeOfReshapeReadsTheFirstInput) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Reshape", {x, g->add_constant("s1", i64({2}, {6, 4}))}, {a});
    op(*g, "Reshape", {a, g->add_constant("s2", i64({2}, {4, -1}))}, {b});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Reshape", "Relu"}));
  auto g = optimized_graph(make, kRemove);
  EXPECT_EQ(find_node(*g, "Reshape")->input(0)->name(), "x");
}

TEST(RemoveIdentityOpsPass, ReshapeWithZeroTargetKeepsItsInput) {
  // 0 copies a dim of the direct input ([6, 4] -> 6), which x ([2, 3, 4]) would not give.
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Reshape", {x, g->add_constant("s1", i64({2}, {6, 4}))}, {a});
    op(*g, "Reshape", {a, g->add_constant("s2", i64({3}, {0, 2, 2}))}, {b});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Reshape"), 2u);
}

TEST(RemoveIdentityOpsPass, UnsqueezeThenSqueezeCancels) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    Value* y = v(*g, "y");
    op(*g, "Unsqueeze", {x, g->add_constant("ax1", i64({2}, {0, 3}))}, {a});
    op(*g, "Squeeze", {a, g->add_constant("ax2", i64({2}, {-1, 0}))}, {b});
    op(*g, "Relu", {b}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
}

TEST(RemoveIdentityOpsPass, SqueezeOfOtherAxesStays) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 1, 3}));
    Value* a = v(*g, "a");
    Value* b = v(*g, "b");
    op(*g, "Unsqueeze", {x, g->add_constant("ax1", i64({1}, {0}))}, {a});
    op(*g, "Squeeze", {a, g->add_constant("ax2", i64({1}, {2}))}, {b});
    g->add_output(b);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Unsqueeze", "Squeeze"}));
}

TEST(RemoveIdentityOpsPass, GraphOutputKeepsItsName) {
  // The Identity produces the graph output "y": the Relu takes over producing it.
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* a = v(*g, "a");
    Value* y = v(*g, "y");
    op(*g, "Relu", {x}, {a}, "relu");
    op(*g, "Identity", {a}, {y}, "id");
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu"}));
  auto g = optimized_graph(make, kRemove);
  EXPECT_EQ(output_names(*g), (std::vector<std::string>{"y"}));
  EXPECT_EQ(g->find_value("y")->producer()->op_type, "Relu");
}

TEST(RemoveIdentityOpsPass, IdentityFromInputToOutputStays) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* y = v(*g, "y");
    op(*g, "Identity", {x}, {y});
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Identity"}));
  EXPECT_EQ(output_names(*optimized_graph(make, kRemove)), (std::vector<std::string>{"y"}));
}

TEST(RemoveIdentityOpsPass, IdentityWhoseInputHasOtherReadersStaysBeforeAGraphOutput) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* a = v(*g, "a");
    Value* y1 = v(*g, "y1");
    Value* y2 = v(*g, "y2");
    op(*g, "Relu", {x}, {a});
    op(*g, "Identity", {a}, {y1});
    op(*g, "Neg", {a}, {y2});
    g->add_output(y1);
    g->add_output(y2);
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Identity"), 1u);
}

TEST(RemoveIdentityOpsPass, ValueReadBySubgraphSurvives) {
  // "i" is read only by the If branches, by name. Removing the Identity must keep a value of
  // that name (the Relu produces it).
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* cond = input(*g, "cond", DataType::kBool, SymShape{});
    Value* a = g->add_value("a", DataType::kFloat32, sym_shape({2, 3}));
    Value* i = g->add_value("i", DataType::kFloat32, sym_shape({2, 3}));
    op(*g, "Relu", {x}, {a});
    op(*g, "Identity", {a}, {i});
    g->add_output(if_reading(*g, cond, i, "y"));
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "If"}));
  auto g = optimized_graph(make, kRemove);
  ASSERT_NE(g->find_value("i"), nullptr);
  EXPECT_EQ(g->find_value("i")->producer()->op_type, "Relu");
}

TEST(RemoveIdentityOpsPass, GraphInputReadBySubgraphThroughIdentityStays) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* cond = input(*g, "cond", DataType::kBool, SymShape{});
    Value* i = g->add_value("i", DataType::kFloat32, sym_shape({2, 3}));
    op(*g, "Identity", {x}, {i});
    g->add_output(if_reading(*g, cond, i, "y"));
    return g;
  };
  PassRun r = run_passes_on(make, kRemove);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Identity", "If"}));
}

TEST(GraphSetOutput, HandsAValueToAnotherProducer) {
  // What the passes use to keep a graph output's name: relu produces y in place of a, then the
  // Identity that produced y goes.
  auto g = new_graph();
  Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2}));
  Value* a = g->add_value("a");
  Value* y = g->add_value("y");
  Node* relu = op(*g, "Relu", {x}, {a});
  Node* id = op(*g, "Identity", {a}, {y});
  g->add_output(y);
  g->set_output(relu, 0, y);
  EXPECT_EQ(y->producer(), relu);
  EXPECT_EQ(y->producer_output(), 0u);
  EXPECT_EQ(a->producer(), nullptr);
  g->remove_node(id);
  EXPECT_EQ(g->find_value("a"), nullptr);  // no producer, no use: dropped
  EXPECT_EQ(relu->output(0), y);
  EXPECT_TRUE(g->verify().ok()) << g->verify().message();
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(RemoveIdentityOpsPass, TransposeMovingOnlyUnitDimsBecomesReshape) {
  // [batch, 1, 1, 7] -> perm 0,3,1,2 keeps every element in place; [2, 3, 1] -> 1,0,2 does not.
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::sym("batch"), Dim::known(1), Dim::known(1), Dim::known(7)});
        b.output(b.op("Relu", {b.op("Transpose", {x}, [](Attributes& a) { a.set_ints("perm", {0, 3, 1, 2}); })}));
        Value* y = b.input("y", {Dim::known(2), Dim::known(3), Dim::known(1)});
        b.output(b.op("Transpose", {y}, [](Attributes& a) { a.set_ints("perm", {1, 0, 2}); }));
        return b.take();
      },
      kRemove, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Reshape", "Relu", "Transpose"}));
}


// k.transpose(-2, -1) of a [batch, H, S, D] tensor as PyTorch's dynamo exporter writes it: the
// leading dims merged by a Reshape whose target is sliced from Shape(k) (with int64's extremes
// as open slice ends), a 3-D Transpose, and a Reshape back to [batch, H, D, S].
struct MergedViewOptions {
  std::vector<int64_t> perm{0, 2, 1};
  bool merge_middle = false;  // merge H and S instead of the leading dims: not a transpose of k
};

GraphMaker transpose_through_merged_view(MergedViewOptions o) {
  return [=] {
    TestGraph b(18);
    Value* k = b.input("k", {Dim::sym("batch"), Dim::known(4), Dim::known(6), Dim::known(5)});
    Value* shape = b.op("Shape", {k}, [](Attributes& a) { a.set_int("start", 0); });
    const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    Value* last = b.op("Slice", {shape, b.ints({-1}), b.ints({hi})});
    Value* mid = b.op("Slice", {shape, b.ints({-2}), b.ints({-1})});
    Value* lead = b.op("Slice", {shape, b.ints({lo}), b.ints({-2})});
    auto concat = [&](std::vector<Value*> xs) { return b.op("Concat", std::move(xs), [](Attributes& a) { a.set_int("axis", 0); }); };
    Value* merged = o.merge_middle ? b.op("Reshape", {k, b.ints({-1, 24, 5})}) : b.op("Reshape", {k, concat({b.ints({-1}), mid, last})});
    Value* t = b.op("Transpose", {merged}, [&](Attributes& a) { a.set_ints("perm", o.perm); });
    Value* back = o.merge_middle ? b.op("Reshape", {t, b.ints({-1, 5, 4, 6})}) : b.op("Reshape", {t, concat({lead, last, mid})});
    b.output(b.op("Neg", {back}));
    return b.take();
  };
}

TEST(RemoveIdentityOpsPass, TransposeThroughAMergedViewBecomesOneTranspose) {
  PassRun r = run_passes_on(transpose_through_merged_view({}), kRemove, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "Neg"}));
  EXPECT_EQ(r.inputs[0], (std::vector<std::string>{"k"}));
  auto g = optimized_graph(transpose_through_merged_view({}), kRemove);
  EXPECT_EQ(find_node(*g, "Transpose")->attrs.get_ints("perm"), (std::vector<int64_t>{0, 1, 3, 2}));
}

TEST(RemoveIdentityOpsPass, MergedViewTransposeStaysWhenItIsNotOne) {
  // A Transpose that moves the merged dim, or a view that merges other dims than the leading
  // ones, is no Transpose of k.
  MergedViewOptions moves_merged;
  moves_merged.perm = {1, 0, 2};
  PassRun a = run_passes_on(transpose_through_merged_view(moves_merged), kRemove, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(a, 0);
  EXPECT_EQ(a.count("Reshape"), 2u);
  MergedViewOptions middle;
  middle.merge_middle = true;
  PassRun b = run_passes_on(transpose_through_merged_view(middle), kRemove, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(b, 0);
  EXPECT_EQ(b.count("Reshape"), 2u);
  EXPECT_EQ(b.count("Transpose"), 1u);
}

}  // namespace
}  // namespace kiln::test
