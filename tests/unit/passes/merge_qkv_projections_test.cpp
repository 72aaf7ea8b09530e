#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"merge-qkv-projections"};

GraphMaker projections(bool biases, bool one_weight_is_input) {
  return [=] {
    TestGraph b;
    Value* x = b.input("x", {Dim::sym("batch"), Dim::known(5), Dim::known(16)});
    for (int i = 0; i < 3; ++i) {
      Value* w = (one_weight_is_input && i == 1) ? b.input("w1", {Dim::known(16), Dim::known(8 + i)}) : b.random("w", {16, 8 + i});
      Value* y = b.op("MatMul", {x, w});
      if (biases) y = b.op("Add", {y, b.random("b", {8 + i})});
      b.output(b.op("Relu", {y}));
    }
    return b.take();
  };
}

TEST(MergeQkvProjections, ThreeProjectionsWithBiasesBecomeOne) {
  PassRun r = run_passes_on(projections(true, false), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("MatMul"), 1u);
  EXPECT_EQ(r.count("Add"), 1u);
  EXPECT_EQ(r.count("Split"), 1u);
  EXPECT_EQ(r.count("Relu"), 3u);
}

TEST(MergeQkvProjections, WithoutBiases) {
  PassRun r = run_passes_on(projections(false, false), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("MatMul"), 1u);
  EXPECT_EQ(r.count("Add"), 0u);
}

TEST(MergeQkvProjections, OnlyConstantWeightsMerge) {
  PassRun r = run_passes_on(projections(true, true), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("MatMul"), 2u);  // the merged pair and the one with a run-time weight
  EXPECT_EQ(r.count("Split"), 1u);
}

}  // namespace
}  // namespace kiln::test
