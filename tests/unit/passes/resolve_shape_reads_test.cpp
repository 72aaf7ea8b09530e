#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"resolve-shape-reads"};

// y = Relu(x); out = Reshape(y, [Shape(y)[0], -1]): the size read moves from y to x.
GraphMaker reshape_by_own_batch(SymShape xs) {
  return [=] {
    TestGraph b;
    Value* x = b.input("x", xs);
    Value* y = b.op("Relu", {x});
    Value* n = b.op("Gather", {b.op("Shape", {y}), b.constant("zero", i64({}, {0}))}, [](Attributes& a) { a.set_int("axis", 0); });
    Value* shape = b.op("Concat", {b.op("Unsqueeze", {n, b.ints({0})}), b.ints({-1})}, [](Attributes& a) { a.set_int("axis", 0); });
    b.output(b.op("Reshape", {y, shape}));
    return b.take();
  };
}

TEST(ResolveShapeReads, ASymbolicDimIsReadFromTheGraphInput) {
  PassRun r = run_passes_on(reshape_by_own_batch({Dim::sym("batch"), Dim::known(3), Dim::known(4)}), kPass, {{"batch", 5}});
  EXPECT_PASS_RUN_OK(r, 0);
  ASSERT_EQ(r.count("Shape"), 1u);
  // The Shape now reads x (a graph input): y is read by the Reshape alone.
  const size_t i = static_cast<size_t>(std::find(r.ops.begin(), r.ops.end(), "Shape") - r.ops.begin());
  EXPECT_EQ(r.inputs[i], (std::vector<std::string>{"x"}));
}

TEST(ResolveShapeReads, AKnownDimBecomesAConstant) {
  PassRun r = run_passes_on(reshape_by_own_batch({Dim::known(2), Dim::known(3), Dim::known(4)}), kPass);
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Shape"), 0u);
  EXPECT_EQ(r.count("Gather"), 0u);
}

TEST(ResolveShapeReads, AnUnnamedDimStays) {
  // An unknown rank gives nothing to match: the read stays where it is.
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::sym("n"), Dim::known(4)});
        Value* k = b.input("k", {Dim::known(1)}, DataType::kInt64);
        Value* y = b.op("Tile", {x, b.op("Concat", {k, b.ints({1})}, [](Attributes& a) { a.set_int("axis", 0); })});
        Value* n = b.op("Gather", {b.op("Shape", {y}), b.constant("zero", i64({}, {0}))}, [](Attributes& a) { a.set_int("axis", 0); });
        b.output(b.op("Unsqueeze", {n, b.ints({0})}));
        b.output(y);
        return b.take();
      },
      kPass);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.count("Shape"), 1u);
  EXPECT_EQ(r.count("Tile"), 1u);
}

// PyTorch's export of BERT's attention mask: an index grid expanded to Shape(Max(a, b)), where the
// Max is computed only for its shape. a = Unsqueeze(x) is [batch, 4, 1], b a constant [1, 1, 5].
GraphMaker expand_to_shape_of_max(int opset, int64_t start, int64_t end) {
  return [=] {
    TestGraph b(opset);
    Value* x = b.input("x", {Dim::sym("batch"), Dim::known(4)}, DataType::kInt64);
    Value* a = b.op("Unsqueeze", {x, b.ints({2})});
    Value* cols = b.constant("cols", i64({1, 1, 5}, {0, 1, 2, 3, 4}));
    Value* m = b.op("Max", {a, cols});
    Value* shape = b.op("Shape", {m}, [&](Attributes& at) {
      if (start != 0) at.set_int("start", start);
      if (end != 3) at.set_int("end", end);
    });
    b.output(b.op("Expand", {b.constant("seven", i64({1}, {7})), shape}));
    b.output(b.op("Add", {a, b.constant("one", i64({}, {1}))}));
    return b.take();
  };
}

TEST(ResolveShapeReads, AWholeShapeIsRebuiltSoTheValueItWasComputedForGoes) {
  PassRun r = run_passes_on(expand_to_shape_of_max(17, 0, 3), kPass, {{"batch", 5}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Max"), 0u);
  ASSERT_EQ(r.count("Shape"), 1u);
  const size_t i = static_cast<size_t>(std::find(r.ops.begin(), r.ops.end(), "Shape") - r.ops.begin());
  EXPECT_EQ(r.inputs[i], (std::vector<std::string>{"x"}));
  EXPECT_EQ(r.count("Concat"), 1u) << "batch from x, then the known dims 4 and 5";
}

TEST(ResolveShapeReads, AShapeRangeIsRebuiltToo) {
  // Shape-15's start/end: dims [0, 2) = [batch, 4].
  PassRun r = run_passes_on(expand_to_shape_of_max(19, 0, 2), kPass, {{"batch", 3}});
  EXPECT_PASS_RUN_OK(r, 0);
  EXPECT_EQ(r.count("Max"), 0u);
  // Dims [0, 1) = [batch]: one read of x's dim, no Concat.
  PassRun one = run_passes_on(expand_to_shape_of_max(19, 0, 1), kPass, {{"batch", 4}});
  EXPECT_PASS_RUN_OK(one, 0);
  EXPECT_EQ(one.count("Max"), 0u);
  EXPECT_EQ(one.count("Concat"), 0u);
}

TEST(ResolveShapeReads, AShapeWhoseDimOnlyItsInputCarriesStays) {
  // y = Concat(x, x) along the symbolic axis: its first dim is y's own, so only y can give it.
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::sym("n"), Dim::known(4)});
        Value* y = b.op("Concat", {x, x}, [](Attributes& a) { a.set_int("axis", 0); });
        b.output(b.op("Expand", {b.scalar(2.f), b.op("Shape", {y})}));
        b.output(y);
        return b.take();
      },
      kPass, {{"n", 3}});
  EXPECT_PASS_RUN_OK(r, 0);
  ASSERT_EQ(r.count("Shape"), 1u);
  const size_t i = static_cast<size_t>(std::find(r.ops.begin(), r.ops.end(), "Shape") - r.ops.begin());
  EXPECT_NE(r.inputs[i], (std::vector<std::string>{"x"}));
}

}  // namespace
}  // namespace kiln::test
