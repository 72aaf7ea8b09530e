#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

// The layout pass and the cleanup that removes the Transposes it leaves between converted nodes.
const std::vector<std::string> kPasses{"convert-to-channels-last", "remove-identity-ops", "eliminate-common-subexpressions"};

PassRun channels_last_run(const GraphMaker& make) { return run_passes_on(make, kPasses, {}, /*channels_last_convs=*/true); }

SymShape nchw(int64_t n, int64_t c, int64_t h, int64_t w) { return {Dim::known(n), Dim::known(c), Dim::known(h), Dim::known(w)}; }

void pads1(Attributes& a) { a.set_ints("pads", {1, 1, 1, 1}); }

// A ResNet stem and block: Conv, Relu, MaxPool, Conv + shortcut Add + Relu, then the classifier
// head (GlobalAveragePool, Flatten, Gemm) that reads channels-first again.
std::unique_ptr<Graph> resnet_like() {
  TestGraph b;
  Value* x = b.input("x", nchw(1, 3, 16, 16));
  Value* c1 = b.op("Conv", {x, b.random("w1", {8, 3, 3, 3}, -0.3f, 0.3f), b.random("b1", {8})}, [](Attributes& a) {
    a.set_ints("strides", {2, 2});
    pads1(a);
  });
  Value* r1 = b.op("Relu", {c1});
  Value* p = b.op("MaxPool", {r1}, [](Attributes& a) {
    a.set_ints("kernel_shape", {3, 3});
    a.set_ints("strides", {2, 2});
    pads1(a);
  });
  Value* c2 = b.op("Conv", {p, b.random("w2", {8, 8, 3, 3}, -0.3f, 0.3f)}, pads1);
  Value* sum = b.op("Relu", {b.op("Add", {c2, p})});
  Value* gap = b.op("GlobalAveragePool", {sum});
  Value* flat = b.op("Flatten", {gap});
  b.output(b.op("Gemm", {flat, b.random("fc", {5, 8}), b.random("fcb", {5})}, [](Attributes& a) { a.set_int("transB", 1); }));
  return b.take();
}

TEST(ConvertToChannelsLast, ResNetLikeKeepsOneTransposeAtTheInput) {
  PassRun r = channels_last_run(resnet_like);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "kiln.FusedConv", "Relu", "kiln.MaxPool", "kiln.FusedConv", "Add", "Relu",
                                             "ReduceMean", "Reshape", "Flatten", "Gemm"}));
}

// PyTorch's dynamo exporter writes ResNet's adaptive_avg_pool2d(x, 1) as ReduceMean over axes
// [2, 3] with keepdims (the axes an input from opset 18), then Reshape [N, C] and Gemm: the
// ReduceMean is a global average pool and follows the convolutions channels-last.
std::unique_ptr<Graph> resnet_head_as_torch_exports(std::vector<int64_t> axes, int64_t keepdims) {
  TestGraph b(18);
  Value* x = b.input("x", {Dim::sym("batch"), Dim::known(3), Dim::known(8), Dim::known(8)});
  Value* c1 = b.op("Relu", {b.op("Conv", {x, b.random("w1", {8, 3, 3, 3}, -0.3f, 0.3f), b.random("b1", {8})}, pads1)});
  Value* c2 = b.op("Relu", {b.op("Conv", {c1, b.random("w2", {8, 8, 1, 1}, -0.3f, 0.3f)})});
  Value* mean = b.op("ReduceMean", {c2, b.ints(axes)}, [=](Attributes& a) { a.set_int("keepdims", keepdims); });
  Value* flat = keepdims ? b.op("Reshape", {mean, b.ints({-1, 8})}) : mean;
  b.output(b.op("Gemm", {flat, b.random("fc", {5, 8}), b.random("fcb", {5})}, [](Attributes& a) { a.set_int("transB", 1); }));
  return b.take();
}

TEST(ConvertToChannelsLast, ReduceMeanOverHeightAndWidthIsAGlobalAveragePool) {
  PassRun r = run_passes_on([] { return resnet_head_as_torch_exports({2, 3}, 1); }, kPasses, {{"batch", 2}}, true);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  // No Transpose back to channels-first before the mean: it reads the channels-last value.
  // The Transpose back of [N, 1, 1, C] is a Reshape, and the Reshape to [N, C] then reads it.
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "kiln.FusedConv", "Relu", "kiln.FusedConv", "Relu", "ReduceMean", "Reshape",
                                             "Gemm"}));
  PassRun neg = run_passes_on([] { return resnet_head_as_torch_exports({-2, -1}, 1); }, kPasses, {{"batch", 2}}, true);
  EXPECT_PASS_RUN_OK(neg, 1e-5);
  EXPECT_EQ(neg.count("Transpose"), 1u);
}

TEST(ConvertToChannelsLast, ReduceMeanThatIsNotAPoolStaysChannelsFirst) {
  // Without keepdims, or over the channels, the mean reads the channels-first layout.
  PassRun r = run_passes_on([] { return resnet_head_as_torch_exports({2, 3}, 0); }, kPasses, {{"batch", 2}}, true);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("Transpose"), 2u);
  PassRun c = run_passes_on([] { return resnet_head_as_torch_exports({1, 2}, 1); }, kPasses, {{"batch", 2}}, true);
  EXPECT_PASS_RUN_OK(c, 1e-5);
  EXPECT_EQ(c.count("Transpose"), 2u);
}

TEST(ConvertToChannelsLast, OnlyWhenTheBackendPrefersIt) {
  PassRun r = run_passes_on(resnet_like, kPasses);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Transpose"), 0u);
  EXPECT_EQ(r.count("Conv"), 2u);
}

TEST(ConvertToChannelsLast, ReadersThatNeedChannelsFirstGetATransposeBack) {
  // Softmax over axis 1 (the channels) and a per-channel [C,1,1] Mul have layout semantics: they
  // stay channels-first and read the convolution's output through one Transpose back.
  PassRun r = channels_last_run([] {
    TestGraph b;
    Value* x = b.input("x", nchw(2, 4, 6, 5));
    Value* c0 = b.op("Conv", {x, b.random("w0", {4, 4, 1, 1})});
    Value* c = b.op("Conv", {c0, b.random("w", {6, 4, 3, 3}), b.random("b", {6})}, pads1);
    b.output(b.op("Softmax", {c}, [](Attributes& a) { a.set_int("axis", 1); }));
    b.output(b.op("Mul", {c, b.random("scale", {6, 1, 1})}));
    return b.take();
  });
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "kiln.FusedConv", "kiln.FusedConv", "Transpose", "Softmax", "Mul"}));
}

TEST(ConvertToChannelsLast, GraphOutputKeepsItsNameAndLayout) {
  PassRun r = channels_last_run([] {
    TestGraph b;
    Value* x = b.input("x", nchw(1, 2, 5, 5));
    Value* c = b.op("Conv", {x, b.random("w0", {2, 2, 1, 1})});
    b.output(b.op("Conv", {c, b.random("w", {3, 2, 1, 1})}));
    return b.take();
  });
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "kiln.FusedConv", "kiln.FusedConv", "Transpose"}));
}

TEST(ConvertToChannelsLast, ALoneConvolutionStaysChannelsFirst) {
  // ViT's patch embedding: one Conv read by a Reshape. Two Transposes would buy nothing.
  PassRun r = channels_last_run([] {
    TestGraph b;
    Value* x = b.input("x", nchw(1, 3, 8, 8));
    Value* c = b.op("Conv", {x, b.random("w", {6, 3, 4, 4})}, [](Attributes& a) { a.set_ints("strides", {4, 4}); });
    b.output(b.op("Reshape", {c, b.ints({1, 6, 4})}));
    return b.take();
  });
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv", "Reshape"}));
}

TEST(ConvertToChannelsLast, NotForOtherRanksOrTypes) {
  PassRun r = channels_last_run([] {
    TestGraph b;
    Value* x = b.input("x", {Dim::known(1), Dim::known(2), Dim::known(9)});  // 1-D convolution
    b.output(b.op("Conv", {x, b.random("w", {3, 2, 3})}));
    return b.take();
  });
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv"}));
}

TEST(ConvertToChannelsLast, MaxPoolWithIndicesStaysChannelsFirst) {
  PassRun r = channels_last_run([] {
    TestGraph b;
    Value* x = b.input("x", nchw(1, 2, 6, 6));
    Value* c0 = b.op("Conv", {x, b.random("w0", {2, 2, 1, 1})});
    Value* c = b.op("Conv", {c0, b.random("w", {4, 2, 1, 1})});
    auto outs = b.ops("MaxPool", {c}, 2, [](Attributes& a) { a.set_ints("kernel_shape", {2, 2}); });
    b.output(outs[0]);
    b.output(outs[1]);
    return b.take();
  });
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "kiln.FusedConv", "kiln.FusedConv", "Transpose", "MaxPool"}));
}

}  // namespace
}  // namespace kiln::test
