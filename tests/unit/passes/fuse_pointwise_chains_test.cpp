#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"fuse-pointwise-chains"};

TEST(FusePointwiseChains, ChainWithBroadcastAndSwappedOperands) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::sym("n"), Dim::known(16)});
        Value* y = b.op("Mul", {x, b.scalar(2)});
        y = b.op("Add", {b.random("shift", {16}), y});
        y = b.op("Sub", {b.scalar(1), y});
        y = b.op("Sigmoid", {y});
        b.output(b.op("LeakyRelu", {y}, [](Attributes& a) { a.set_float("alpha", 0.2f); }));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedPointwise"}));
  EXPECT_EQ(r.fused[0].size(), 5u);
}

TEST(FusePointwiseChains, ASharedIntermediateEndsTheChain) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(4), Dim::known(8)});
        Value* y = b.op("Exp", {b.op("Neg", {x})});
        b.output(b.op("Tanh", {b.op("Abs", {y})}));
        b.output(b.op("Sqrt", {y}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("kiln.FusedPointwise"), 2u);  // Neg>Exp, Abs>Tanh
  EXPECT_EQ(r.count("Sqrt"), 1u);
}

TEST(FusePointwiseChains, NotAnOperandThatEnlargesTheValue) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(4), Dim::known(1)});
        Value* y = b.op("Relu", {x});
        b.output(b.op("Add", {y, b.random("wide", {4, 8})}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Relu", "Add"}));
}

}  // namespace
}  // namespace kiln::test
