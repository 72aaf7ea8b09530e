#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"fold-transpose-into-matmul"};

void perm(Attributes& a, std::vector<int64_t> p) { a.set_ints("perm", std::move(p)); }

TEST(FoldTransposeIntoMatMul, BothOperandsOfABatchedMatMul) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(2), Dim::known(3), Dim::known(4), Dim::known(5)});
        Value* y = b.input("y", {Dim::known(2), Dim::known(3), Dim::known(6), Dim::known(4)});
        Value* xt = b.op("Transpose", {x}, [](Attributes& a) { perm(a, {0, 1, 3, 2}); });
        Value* yt = b.op("Transpose", {y}, [](Attributes& a) { perm(a, {0, 1, 3, 2}); });
        b.output(b.op("MatMul", {xt, yt}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedMatMul"}));
}

TEST(FoldTransposeIntoMatMul, GemmFlipsItsFlag) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* a = b.input("a", {Dim::known(7), Dim::known(4)});
        Value* w = b.input("w", {Dim::known(8), Dim::known(7)});
        Value* at = b.op("Transpose", {a}, [](Attributes& x) { perm(x, {1, 0}); });
        b.output(b.op("Gemm", {at, w}, [](Attributes& x) { x.set_int("transB", 1); }));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Gemm"}));
}

TEST(FoldTransposeIntoMatMul, NotAnotherPermutation) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(3), Dim::known(2), Dim::known(4), Dim::known(5)});
        Value* y = b.input("y", {Dim::known(2), Dim::known(3), Dim::known(5), Dim::known(6)});
        Value* xt = b.op("Transpose", {x}, [](Attributes& a) { perm(a, {1, 0, 2, 3}); });
        b.output(b.op("MatMul", {xt, y}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "MatMul"}));
}

TEST(FoldTransposeIntoMatMul, NotATransposeWithAnotherReader) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(4), Dim::known(5)});
        Value* y = b.input("y", {Dim::known(4), Dim::known(6)});
        Value* xt = b.op("Transpose", {x}, [](Attributes& a) { perm(a, {1, 0}); });
        b.output(b.op("MatMul", {xt, y}));
        b.output(xt);
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Transpose", "MatMul"}));
}

}  // namespace
}  // namespace kiln::test
