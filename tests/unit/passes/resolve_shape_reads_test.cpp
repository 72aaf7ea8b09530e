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

}  // namespace
}  // namespace kiln::test
