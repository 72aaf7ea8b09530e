#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"recognize-layernorm"};

struct LnOptions {
  int opset = 17;
  bool gamma = true, beta = true;
  bool square_by_mul = false;
  std::vector<int64_t> axes{-1};
  bool gamma_is_input = false;
};

GraphMaker layernorm(LnOptions o) {
  return [=] {
    TestGraph b(o.opset);
    Value* x = b.input("x", {Dim::sym("batch"), Dim::known(5), Dim::known(32)});
    auto mean = [&](Value* v) {
      if (o.opset >= 18) return b.op("ReduceMean", {v, b.ints(o.axes)});
      return b.op("ReduceMean", {v}, [&](Attributes& a) { a.set_ints("axes", o.axes); });
    };
    Value* d = b.op("Sub", {x, mean(x)});
    Value* sq = o.square_by_mul ? b.op("Mul", {d, d}) : b.op("Pow", {d, b.scalar(2)});
    Value* s = b.op("Sqrt", {b.op("Add", {mean(sq), b.scalar(1e-5f)})});
    Value* y = b.op("Div", {d, s});
    if (o.gamma) y = b.op("Mul", {y, o.gamma_is_input ? b.input("g", {Dim::known(32)}) : b.random("gamma", {32}, 0.5f, 1.5f)});
    if (o.beta) y = b.op("Add", {y, b.random("beta", {32})});
    b.output(y);
    return b.take();
  };
}

TEST(RecognizeLayerNorm, DecomposedWithScaleAndBias) {
  PassRun r = run_passes_on(layernorm({}), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"LayerNormalization"}));
  EXPECT_EQ(r.fused[0].size(), 9u);
}

TEST(RecognizeLayerNorm, SquareAsMulAxesAsInputAndNoScale) {
  LnOptions o;
  o.opset = 18;
  o.square_by_mul = true;
  o.gamma = false;
  PassRun r = run_passes_on(layernorm(o), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"LayerNormalization"}));
}

TEST(RecognizeLayerNorm, NotOverALeadingAxis) {
  LnOptions o;
  o.axes = {1};
  PassRun r = run_passes_on(layernorm(o), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("LayerNormalization"), 0u);
}

TEST(RecognizeLayerNorm, AScaleThatIsNotAConstantStaysAMul) {
  LnOptions o;
  o.gamma_is_input = true;
  o.beta = false;
  PassRun r = run_passes_on(layernorm(o), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"LayerNormalization", "Mul"}));
}

}  // namespace
}  // namespace kiln::test
