#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"fuse-matmul-epilogue"};

TEST(FuseMatMulEpilogue, BiasActivationResidualAndPostActivation) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::sym("batch"), Dim::known(5), Dim::known(16)});
        Value* res = b.input("res", {Dim::sym("batch"), Dim::known(5), Dim::known(8)});
        Value* y = b.op("MatMul", {x, b.random("w", {16, 8})});
        y = b.op("Add", {y, b.random("b", {8})});
        y = b.op("Relu", {y});
        y = b.op("Add", {res, y});
        b.output(b.op("Tanh", {y}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedMatMul"}));
  EXPECT_EQ(r.fused[0].size(), 5u);
}

TEST(FuseMatMulEpilogue, GemmWithScaledBiasAndLeakyRelu) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* a = b.input("a", {Dim::known(4), Dim::known(16)});
        Value* y = b.op("Gemm", {a, b.random("w", {8, 16}), b.random("c", {8})}, [](Attributes& at) {
          at.set_int("transB", 1);
          at.set_float("alpha", 0.5f);
          at.set_float("beta", 2.0f);
        });
        b.output(b.op("LeakyRelu", {y}, [](Attributes& at) { at.set_float("alpha", 0.1f); }));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedMatMul"}));
}

TEST(FuseMatMulEpilogue, LoneGemmStaysGemm) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* a = b.input("a", {Dim::known(4), Dim::known(16)});
        b.output(b.op("Gemm", {a, b.random("w", {16, 8}), b.random("c", {8})}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Gemm"}));
}

TEST(FuseMatMulEpilogue, NotWhenTheProductHasTwoReaders) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(3), Dim::known(16)});
        Value* y = b.op("MatMul", {x, b.random("w", {16, 8})});
        b.output(b.op("Relu", {y}));
        b.output(b.op("Add", {y, b.random("b", {8})}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("MatMul"), 1u);
  EXPECT_EQ(r.count("kiln.FusedMatMul"), 0u);
}

TEST(FuseMatMulEpilogue, NotAnAddThatEnlargesTheProduct) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(5), Dim::known(16)});
        Value* y = b.op("MatMul", {x, b.random("w", {16, 8})});
        b.output(b.op("Add", {y, b.random("wide", {3, 1, 1})}));
        return b.take();
      },
      kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MatMul", "Add"}));
}

TEST(FuseMatMulEpilogue, NotAcrossADtypeChange) {
  PassRun r = run_passes_on(
      [] {
        TestGraph b;
        Value* x = b.input("x", {Dim::known(5), Dim::known(16)});
        Value* y = b.op("MatMul", {x, b.random("w", {16, 8})});
        Value* d = b.op("Cast", {y}, [](Attributes& a) { a.set_int("to", static_cast<int64_t>(DataType::kFloat64)); });
        b.output(b.op("Relu", {d}));
        return b.take();
      },
      kPass);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MatMul", "Cast", "Relu"}));
}

}  // namespace
}  // namespace kiln::test
