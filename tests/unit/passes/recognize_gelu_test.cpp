#include <cmath>

#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"recognize-gelu"};

// x·0.5·(1 + erf(x/√2)) with the product written in one of three orders.
GraphMaker erf_gelu(int order, float half = 0.5f) {
  return [=] {
    TestGraph b;
    Value* x = b.input("x", {Dim::sym("n"), Dim::known(16)});
    Value* e = b.op("Erf", {b.op("Div", {x, b.scalar(1.4142135381698608f)})});
    Value* a = b.op("Add", {e, b.scalar(1)});
    Value* y = nullptr;
    if (order == 0) y = b.op("Mul", {b.op("Mul", {x, a}), b.scalar(half)});
    if (order == 1) y = b.op("Mul", {x, b.op("Mul", {a, b.scalar(half)})});
    if (order == 2) y = b.op("Mul", {b.op("Mul", {x, b.scalar(half)}), a});
    b.output(y);
    return b.take();
  };
}

TEST(RecognizeGelu, ErfFormInEachProductOrder) {
  for (int order = 0; order < 3; ++order) {
    PassRun r = run_passes_on(erf_gelu(order), kPass);
    EXPECT_PASS_RUN_OK(r, 1e-5);
    EXPECT_EQ(r.ops, (std::vector<std::string>{"Gelu"})) << "order " << order;
  }
}

TEST(RecognizeGelu, TanhForm) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(4), Dim::known(16)});
        Value* cube = b.op("Mul", {b.op("Pow", {x, b.scalar(3)}), b.scalar(0.044715f)});
        Value* inner = b.op("Mul", {b.op("Add", {x, cube}), b.scalar(static_cast<float>(std::sqrt(2 / M_PI)))});
        Value* t = b.op("Add", {b.op("Tanh", {inner}), b.scalar(1)});
        b.output(b.op("Mul", {b.op("Mul", {x, b.scalar(0.5f)}), t}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Gelu"}));
}

TEST(RecognizeGelu, NotWithAnotherConstant) {
  PassRun r = run_passes_on(erf_gelu(0, 0.6f), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("Gelu"), 0u);
  EXPECT_EQ(r.count("Erf"), 1u);
}

TEST(RecognizeGelu, NotWhenAnIntermediateIsReadElsewhere) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(4), Dim::known(16)});
        Value* e = b.op("Erf", {b.op("Div", {x, b.scalar(1.4142135381698608f)})});
        Value* a = b.op("Add", {e, b.scalar(1)});
        b.output(b.op("Mul", {b.op("Mul", {x, a}), b.scalar(0.5f)}));
        b.output(e);
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("Gelu"), 0u);
}

}  // namespace
}  // namespace kiln::test
