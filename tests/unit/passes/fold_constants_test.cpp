#include "unit/passes/cleanup_pass_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kFold = {"fold-constants"};

// y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): [d0, rest] as exporters write it.
std::unique_ptr<Graph> flatten_by_shape(SymShape x_shape) {
  auto g = new_graph();
  Value* x = input(*g, "x", DataType::kFloat32, std::move(x_shape));
  Value* s = g->add_value("s");
  Value* d0 = g->add_value("d0");
  Value* d0v = g->add_value("d0v");
  Value* target = g->add_value("target");
  Value* r = g->add_value("r");
  Value* y = g->add_value("y");
  op(*g, "Relu", {x}, {r});
  op(*g, "Shape", {r}, {s});
  op(*g, "Gather", {s, g->add_constant("zero", i64({}, {0}))}, {d0});
  op(*g, "Unsqueeze", {d0, g->add_constant("axes", i64({1}, {0}))}, {d0v});
  op(*g, "Concat", {d0v, g->add_constant("minus_one", i64({1}, {-1}))}, {target})->attrs.set_int("axis", 0);
  op(*g, "Reshape", {r, target}, {y});
  g->add_output(y);
  return g;
}

TEST(FoldConstantsPass, ShapeChainOfStaticValueFolds) {
  PassRun r = run_passes_on([] { return flatten_by_shape(sym_shape({2, 3, 4})); }, kFold);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Reshape"}));
  auto g = optimized_graph([] { return flatten_by_shape(sym_shape({2, 3, 4})); }, kFold);
  const Value* target = find_node(*g, "Reshape")->input(1);
  ASSERT_TRUE(target->is_constant());
  EXPECT_EQ(std::vector<int64_t>(target->constant->data_as<int64_t>(), target->constant->data_as<int64_t>() + 2),
            (std::vector<int64_t>{2, -1}));
}

TEST(FoldConstantsPass, ShapeOfSymbolicValueStays) {
  auto make = [] { return flatten_by_shape(SymShape{Dim::sym("batch"), Dim::known(3), Dim::known(4)}); };
  PassRun r = run_passes_on(make, kFold, {{"batch", 5}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Shape"), 1u);
  EXPECT_EQ(r.count("Reshape"), 1u);
}

TEST(FoldConstantsPass, ShapeSliceAndSizeFoldWhenTheirDimsAreKnown) {
  // x is [batch, 3, 4]: Shape(start=1) reports only known dims and folds; the full Shape and
  // Size(x) need batch and stay. Size of the computed, statically shaped Relu(z) folds.
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(3), Dim::known(4)});
    Value* r = g->add_value("r");
    op(*g, "Relu", {x}, {r});
    const char* names[] = {"tail", "full", "size", "static_size"};
    Value* outs[4];
    for (int i = 0; i < 4; ++i) outs[i] = g->add_value(names[i]);
    op(*g, "Shape", {r}, {outs[0]})->attrs.set_int("start", 1);
    op(*g, "Shape", {r}, {outs[1]});
    op(*g, "Size", {r}, {outs[2]});
    Value* z = input(*g, "z", DataType::kFloat32, sym_shape({3, 4}));
    Value* rz = g->add_value("rz");
    op(*g, "Relu", {z}, {rz});
    op(*g, "Size", {rz}, {outs[3]});
    for (int i = 0; i < 4; ++i) {
      Value* f = g->add_value(std::string(names[i]) + "_f");
      op(*g, "Cast", {outs[i]}, {f})->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat32));
      g->add_output(f);
    }
    return g;
  };
  PassRun r = run_passes_on(make, kFold, {{"batch", 5}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Shape"), 1u);  // the full one
  EXPECT_EQ(r.count("Size"), 1u);   // of [batch, 3, 4]
  auto g = optimized_graph(make, kFold);
  ASSERT_TRUE(g->find_value("tail_f")->is_constant());
  EXPECT_EQ(floats(*g->find_value("tail_f")->constant), (std::vector<float>{3, 4}));
  ASSERT_TRUE(g->find_value("static_size_f")->is_constant());
  EXPECT_EQ(floats(*g->find_value("static_size_f")->constant), (std::vector<float>{12}));
}

}  // namespace
}  // namespace kiln::test
