#include <cmath>

#include "unit/passes/cleanup_pass_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kFoldBn = {"fold-batchnorm"};

// A BatchNormalization over `channels` with seeded parameters (var > 0) of `dtype`, reading x.
Node* add_batchnorm(Graph& g, Value* x, Value* y, int64_t channels, uint32_t seed, DataType dtype = DataType::kFloat32) {
  Value* scale = g.add_constant("bn_scale", random_tensor({channels}, seed, 0.5f, 2.f, dtype));
  Value* bias = g.add_constant("bn_bias", random_tensor({channels}, seed + 1, -1.f, 1.f, dtype));
  Value* mean = g.add_constant("bn_mean", random_tensor({channels}, seed + 2, -0.5f, 0.5f, dtype));
  Value* var = g.add_constant("bn_var", random_tensor({channels}, seed + 3, 0.2f, 1.5f, dtype));
  Node* bn = op(g, "BatchNormalization", {x, scale, bias, mean, var}, {y}, "bn");
  bn->attrs.set_float("epsilon", 1e-3f);
  return bn;
}

// x [1, 3, 6, 6] -> Conv (4 output channels, 3x3, pad 1) -> BN -> y.
std::unique_ptr<Graph> conv_bn(bool with_bias, DataType dtype = DataType::kFloat32) {
  auto g = new_graph();
  Value* x = input(*g, "x", DataType::kFloat32, sym_shape({1, 3, 6, 6}));
  Value* xin = x;
  if (dtype != DataType::kFloat32) {
    xin = g->add_value("x_cast");
    op(*g, "Cast", {x}, {xin})->attrs.set_int("to", static_cast<int64_t>(dtype));
  }
  std::vector<Value*> ins = {xin, g->add_constant("w", random_tensor({4, 3, 3, 3}, 11, -1.f, 1.f, dtype))};
  if (with_bias) ins.push_back(g->add_constant("b", random_tensor({4}, 12, -1.f, 1.f, dtype)));
  Value* c = g->add_value("c");
  Node* conv = op(*g, "Conv", ins, {c}, "conv");
  conv->attrs.set_ints("pads", {1, 1, 1, 1});
  Value* y = g->add_value("y");
  add_batchnorm(*g, c, y, 4, 20, dtype);
  if (dtype != DataType::kFloat32) {
    Value* yf = g->add_value("y_f32");
    op(*g, "Cast", {y}, {yf})->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat32));
    g->add_output(yf);
  } else {
    g->add_output(y);
  }
  return g;
}

TEST(FoldBatchNormPass, ConvBnBecomesConv) {
  for (bool bias : {true, false}) {
    PassRun r = run_passes_on([bias] { return conv_bn(bias); }, kFoldBn);
    EXPECT_PASS_RUN_OK(r, 1e-5);
    EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv"})) << "bias " << bias;
    EXPECT_EQ(r.fused[0], (std::vector<std::string>{"conv", "bn"}));
  }
  // The BN's output (a graph output) keeps its name; the Conv produces it.
  auto g = optimized_graph([] { return conv_bn(true); }, kFoldBn);
  EXPECT_EQ(output_names(*g), (std::vector<std::string>{"y"}));
  EXPECT_EQ(g->find_value("y")->producer()->op_type, "Conv");
}

TEST(FoldBatchNormPass, FoldedWeightsAreTheFormula) {
  // Independent of the runs: W' and B' checked against the formula on the original constants.
  auto original = conv_bn(true);
  auto g = optimized_graph([] { return conv_bn(true); }, kFoldBn);
  const Node* conv = find_node(*g, "Conv");
  ASSERT_NE(conv, nullptr);
  const float* w = original->find_value("w")->constant->data_as<float>();
  const float* b = original->find_value("b")->constant->data_as<float>();
  auto param = [&](const char* n, int64_t c) { return double(original->find_value(n)->constant->data_as<float>()[c]); };
  const Tensor& w2 = *conv->input(1)->constant;
  const Tensor& b2 = *conv->input(2)->constant;
  for (int64_t m = 0; m < 4; ++m) {
    const double s = param("bn_scale", m) / std::sqrt(param("bn_var", m) + double(1e-3f));
    for (int64_t k = 0; k < 27; ++k) EXPECT_FLOAT_EQ(w2.data_as<float>()[m * 27 + k], float(w[m * 27 + k] * s));
    EXPECT_FLOAT_EQ(b2.data_as<float>()[m], float((b[m] - param("bn_mean", m)) * s + param("bn_bias", m)));
  }
}

TEST(FoldBatchNormPass, Float16ConvBn) {
  PassRun r = run_passes_on([] { return conv_bn(true, DataType::kFloat16); }, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 5e-3);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Cast", "Conv", "Cast"}));
  auto g = optimized_graph([] { return conv_bn(true, DataType::kFloat16); }, kFoldBn);
  EXPECT_EQ(find_node(*g, "Conv")->input(1)->constant->dtype(), DataType::kFloat16);
}

TEST(FoldBatchNormPass, Float64ConvBn) {
  PassRun r = run_passes_on([] { return conv_bn(false, DataType::kFloat64); }, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Cast", "Conv", "Cast"}));
}

TEST(FoldBatchNormPass, ConvOutputWithAnotherReaderIsNotFolded) {
  // The Conv output is also a graph output: the Conv keeps its weights; the BN becomes Mul + Add.
  auto make = [] {
    auto g = conv_bn(true);
    g->add_output(g->find_value("c"));
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv", "Mul", "Add"}));
  auto g = optimized_graph(make, kFoldBn);
  EXPECT_EQ(find_node(*g, "Conv")->input(1)->name(), "w");
}

TEST(FoldBatchNormPass, ConvOutputReadBySubgraphIsNotFolded) {
  auto make = [] {
    auto g = conv_bn(true);
    Value* cond = input(*g, "cond", DataType::kBool, SymShape{});
    g->add_output(if_reading(*g, cond, g->find_value("c"), "z"));
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("BatchNormalization"), 0u);
  auto g = optimized_graph(make, kFoldBn);
  EXPECT_EQ(find_node(*g, "Conv")->input(1)->name(), "w");
  EXPECT_NE(g->find_value("c"), nullptr);
}

TEST(FoldBatchNormPass, NonConstantWeightIsNotFolded) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({1, 3, 5, 5}));
    Value* w = input(*g, "w", DataType::kFloat32, sym_shape({4, 3, 1, 1}));
    Value* c = g->add_value("c");
    Value* y = g->add_value("y");
    op(*g, "Conv", {x, w}, {c});
    add_batchnorm(*g, c, y, 4, 3);
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Conv", "Mul", "Add"}));
}

TEST(FoldBatchNormPass, StandaloneBnBecomesMulAdd) {
  for (int64_t rank : {2, 3, 4}) {
    auto make = [rank] {
      auto g = new_graph();
      Dims dims = {2, 5, 3, 2};
      dims.resize(static_cast<size_t>(rank));
      Value* x = input(*g, "x", DataType::kFloat32, sym_shape(dims));
      Value* y = g->add_value("y");
      add_batchnorm(*g, x, y, 5, 9);
      g->add_output(y);
      return g;
    };
    PassRun r = run_passes_on(make, kFoldBn);
    EXPECT_PASS_RUN_OK(r, 1e-5);
    EXPECT_EQ(r.ops, (std::vector<std::string>{"Mul", "Add"})) << "rank " << rank;
  }
}

TEST(FoldBatchNormPass, TrainingModeAndNonConstantStatisticsStay) {
  auto make = [] {
    auto g = new_graph();
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* var = input(*g, "var", DataType::kFloat32, sym_shape({3}));
    Value* y1 = g->add_value("y1");
    Value* y2 = g->add_value("y2");
    add_batchnorm(*g, x, y1, 3, 1)->attrs.set_int("training_mode", 1);
    Node* bn = add_batchnorm(*g, x, y2, 3, 5);
    g->set_input(bn, 4, var);
    g->add_output(y1);
    g->add_output(y2);
    return g;
  };
  auto g = optimized_graph(make, kFoldBn);
  EXPECT_EQ(g->num_nodes(), 2u);
  EXPECT_NE(find_node(*g, "BatchNormalization"), nullptr);
}

TEST(FoldBatchNormPass, SpatialZeroStays) {
  auto make = [] {
    auto g = new_graph(7);
    Value* x = input(*g, "x", DataType::kFloat32, sym_shape({2, 3}));
    Value* y = g->add_value("y");
    add_batchnorm(*g, x, y, 3, 1)->attrs.set_int("spatial", 0);
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"BatchNormalization"}));
}

TEST(FoldBatchNormPass, ConvTransposeBn) {
  for (int64_t group : {1, 2}) {
    auto make = [group] {
      auto g = new_graph();
      Value* x = input(*g, "x", DataType::kFloat32, sym_shape({1, 4, 3, 3}));
      Value* c = g->add_value("c");
      Value* y = g->add_value("y");
      // W [C_in = 4, M / group = 6 / group, 2, 2]: 6 output channels.
      Node* ct = op(*g, "ConvTranspose",
                    {x, g->add_constant("w", random_tensor({4, 6 / group, 2, 2}, 4)), g->add_constant("b", random_tensor({6}, 5))},
                    {c});
      ct->attrs.set_int("group", group);
      ct->attrs.set_ints("strides", {2, 2});
      add_batchnorm(*g, c, y, 6, 30);
      g->add_output(y);
      return g;
    };
    PassRun r = run_passes_on(make, kFoldBn);
    EXPECT_PASS_RUN_OK(r, 1e-5);
    EXPECT_EQ(r.ops, (std::vector<std::string>{"ConvTranspose"})) << "group " << group;
  }
}

TEST(FoldBatchNormPass, GemmBn) {
  struct Variant {
    bool trans_b;
    Dims c_dims;  // empty: no C
    float beta;
  };
  for (const Variant& var : {Variant{false, {}, 1.f}, Variant{true, {5}, 0.5f}, Variant{false, {3, 1}, 2.f},
                             Variant{true, {3, 5}, 1.f}, Variant{true, {}, 1.f}}) {
    auto make = [var] {
      auto g = new_graph();
      Value* a = input(*g, "a", DataType::kFloat32, sym_shape({3, 4}));
      Dims b_dims = var.trans_b ? Dims{5, 4} : Dims{4, 5};
      std::vector<Value*> ins = {a, g->add_constant("b", random_tensor(b_dims, 6))};
      if (!var.c_dims.empty()) ins.push_back(g->add_constant("c", random_tensor(var.c_dims, 7)));
      Value* m = g->add_value("m");
      Value* y = g->add_value("y");
      Node* gemm = op(*g, "Gemm", ins, {m});
      gemm->attrs.set_int("transB", var.trans_b ? 1 : 0);
      gemm->attrs.set_float("alpha", 0.75f);
      gemm->attrs.set_float("beta", var.beta);
      add_batchnorm(*g, m, y, 5, 40);
      g->add_output(y);
      return g;
    };
    PassRun r = run_passes_on(make, kFoldBn);
    EXPECT_PASS_RUN_OK(r, 1e-5);
    EXPECT_EQ(r.ops, (std::vector<std::string>{"Gemm"}));
  }
}

TEST(FoldBatchNormPass, MatMulBnBecomesMatMulAdd) {
  auto make = [] {
    auto g = new_graph();
    Value* a = input(*g, "a", DataType::kFloat32, sym_shape({3, 4}));
    Value* m = g->add_value("m");
    Value* y = g->add_value("y");
    op(*g, "MatMul", {a, g->add_constant("w", random_tensor({4, 5}, 8))}, {m}, "mm");
    add_batchnorm(*g, m, y, 5, 50);
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MatMul", "Add"}));
  EXPECT_EQ(r.fused[0], (std::vector<std::string>{"mm"}));
  EXPECT_EQ(r.fused[1], (std::vector<std::string>{"bn"}));
}

TEST(FoldBatchNormPass, MatMulWithBatchedOutputIsNotFolded) {
  // [2, 3, 4] @ [4, 5]: the BN's channel axis is 3 (dim 1), not the weight's columns.
  auto make = [] {
    auto g = new_graph();
    Value* a = input(*g, "a", DataType::kFloat32, sym_shape({2, 3, 4}));
    Value* m = g->add_value("m");
    Value* y = g->add_value("y");
    op(*g, "MatMul", {a, g->add_constant("w", random_tensor({4, 5}, 8))}, {m});
    add_batchnorm(*g, m, y, 3, 50);
    g->add_output(y);
    return g;
  };
  PassRun r = run_passes_on(make, kFoldBn);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MatMul", "Mul", "Add"}));
}

}  // namespace
}  // namespace kiln::test
