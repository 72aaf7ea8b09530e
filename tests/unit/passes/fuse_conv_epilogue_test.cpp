#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"fuse-conv-epilogue"};

void pads1(Attributes& a) { a.set_ints("pads", {1, 1, 1, 1}); }

// A ResNet basic block: Conv+bias+Relu, then Conv + shortcut Add + Relu.
std::unique_ptr<Graph> resnet_block() {
  TestGraph b;
  Value* x = b.input("x", {Dim::known(1), Dim::known(8), Dim::known(6), Dim::known(6)});
  Value* c1 = b.op("Conv", {x, b.random("w1", {8, 8, 3, 3}, -0.3f, 0.3f), b.random("b1", {8})}, pads1);
  Value* r1 = b.op("Relu", {c1});
  Value* c2 = b.op("Conv", {r1, b.random("w2", {8, 8, 3, 3}, -0.3f, 0.3f)}, pads1);
  Value* sum = b.op("Add", {c2, x});
  b.output(b.op("Relu", {sum}));
  return b.take();
}

TEST(FuseConvEpilogue, ResNetBlockBecomesTwoLayers) {
  PassRun r = run_passes_on(resnet_block, kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedConv", "kiln.FusedConv"}));
  ASSERT_EQ(r.fused.size(), 2u);
  EXPECT_EQ(r.fused[1].size(), 3u);  // Conv, Add, Relu
}

TEST(FuseConvEpilogue, Relu6AsClipAndPerChannelAddFold) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(2), Dim::known(4), Dim::known(5), Dim::known(5)});
        Value* c = b.op("Conv", {x, b.random("w", {6, 4, 1, 1})});
        Value* shifted = b.op("Add", {c, b.random("shift", {6, 1, 1})});
        b.output(b.op("Clip", {shifted, b.scalar(0), b.scalar(6)}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedConv"}));
}

TEST(FuseConvEpilogue, SiluFromSigmoidAndMul) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(1), Dim::known(3), Dim::known(7), Dim::known(7)});
        Value* c = b.op("Conv", {x, b.random("w", {4, 3, 3, 3}), b.random("b", {4})});
        b.output(b.op("Mul", {c, b.op("Sigmoid", {c})}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedConv"}));
}

TEST(FuseConvEpilogue, NotWhenTheConvOutputHasAnotherReader) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(1), Dim::known(3), Dim::known(5), Dim::known(5)});
        Value* c = b.op("Conv", {x, b.random("w", {4, 3, 1, 1})});
        b.output(b.op("Relu", {c}));
        b.output(b.op("Sigmoid", {c}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("Conv"), 1u);
  EXPECT_EQ(r.count("kiln.FusedConv"), 0u);
}

TEST(FuseConvEpilogue, NotAResidualThatBroadcasts) {
  // A per-channel tensor that is not a constant is neither a bias nor a same-shape residual.
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(1), Dim::known(3), Dim::known(5), Dim::known(5)});
        Value* s = b.input("s", {Dim::known(1), Dim::known(4), Dim::known(1), Dim::known(1)});
        Value* c = b.op("Conv", {x, b.random("w", {4, 3, 1, 1})});
        b.output(b.op("Add", {c, s}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv", "Add"}));
}

TEST(FuseConvEpilogue, ActivationWithANonConstantBoundStays) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(1), Dim::known(3), Dim::known(5), Dim::known(5)});
        Value* hi = b.input("hi", {});
        Value* c = b.op("Conv", {x, b.random("w", {4, 3, 1, 1})});
        b.output(b.op("Clip", {c, b.scalar(0), hi}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv", "Clip"}));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(FuseConvEpilogue, Relu6AsMaxThenMin) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(1), Dim::known(3), Dim::known(5), Dim::known(5)});
        Value* c = b.op("Conv", {x, b.random("w", {4, 3, 3, 3}, -3, 3)});
        b.output(b.op("Min", {b.op("Max", {c, b.scalar(0)}), b.scalar(6)}));
        return b.take();
      },
      {"fuse-conv-epilogue"});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedConv"}));
}

}  // namespace
}  // namespace kiln::test
