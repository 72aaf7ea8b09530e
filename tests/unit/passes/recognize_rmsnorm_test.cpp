#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"recognize-rmsnorm"};

GraphMaker rmsnorm(bool reciprocal, bool eps_is_input = false) {
  return [=] {
    TestGraph b;
    Value* x = b.input("x", {Dim::known(2), Dim::sym("seq"), Dim::known(24)});
    Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(2)})}, [](Attributes& a) { a.set_ints("axes", {-1}); });
    Value* eps = eps_is_input ? b.input("eps", {}) : b.scalar(1e-6f);
    Value* s = b.op("Sqrt", {b.op("Add", {ms, eps})});
    Value* y = reciprocal ? b.op("Mul", {x, b.op("Reciprocal", {s})}) : b.op("Div", {x, s});
    b.output(b.op("Mul", {b.random("gamma", {24}, 0.5f, 1.5f), y}));
    return b.take();
  };
}

TEST(RecognizeRmsNorm, DivideForm) {
  PassRun r = run_passes_on(rmsnorm(false), kPass, {{"seq", 7}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.RMSNormalization"}));
}

TEST(RecognizeRmsNorm, ReciprocalForm) {
  PassRun r = run_passes_on(rmsnorm(true), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.RMSNormalization"}));
}

TEST(RecognizeRmsNorm, NotWithAnEpsilonKnownOnlyAtRunTime) {
  PassRun r = run_passes_on(rmsnorm(false, true), kPass);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.count("kiln.RMSNormalization"), 0u);
}

}  // namespace
}  // namespace kiln::test
