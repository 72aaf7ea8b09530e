// ExecutionContext: input validation names the input and the expected shape; shapes that change
// between calls re-plan and still give right results; bound outputs are written in place.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;

// z = x + y, both float32[batch, 3].
Engine add_engine() {
  auto g = test::new_graph();
  const SymShape s{Dim::sym("batch"), Dim::known(3)};
  Value* x = test::input(*g, "x", DataType::kFloat32, s);
  Value* y = test::input(*g, "y", DataType::kFloat32, s);
  Value* z = g->add_value("z");
  test::op(*g, "Add", {x, y}, {z}, "add");
  g->add_output(z);
  auto e = test::build(std::move(g));
  if (!e.ok()) {
    ADD_FAILURE() << e.status().message();
    std::abort();
  }
  return *e;
}

std::string run_error(const Engine& e, const NamedTensors& in) {
  auto ctx = e.create_execution_context();
  EXPECT_TRUE(ctx.ok());
  NamedTensors out;
  Status s = (*ctx)->run(in, &out);
  EXPECT_FALSE(s.ok()) << "expected an error";
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  return s.message();
}

TEST(Runtime, InputValidationNamesInputAndShape) {
  const Engine e = add_engine();
  const Tensor good = test::f32({2, 3}, {1});
  auto as_i32 = Tensor::allocate(DataType::kInt32, {2, 3});
  ASSERT_TRUE(as_i32.ok());

  std::string m = run_error(e, {{"x", *as_i32}, {"y", good}});
  EXPECT_TRUE(contains(m, "'x'") && contains(m, "int32") && contains(m, "float32")) << m;

  m = run_error(e, {{"x", test::f32({6}, {1})}, {"y", good}});
  EXPECT_TRUE(contains(m, "'x'") && contains(m, "batchx3") && contains(m, "rank")) << m;

  m = run_error(e, {{"x", good}, {"y", test::f32({2, 4}, {1})}});
  EXPECT_TRUE(contains(m, "'y'") && contains(m, "batchx3") && contains(m, "dim 1") && contains(m, "2x4")) << m;

  m = run_error(e, {{"y", good}});
  EXPECT_TRUE(contains(m, "missing input 'x'") && contains(m, "batchx3")) << m;

  m = run_error(e, {{"x", good}, {"y", good}, {"w", good}});
  EXPECT_TRUE(contains(m, "unknown input 'w'") && contains(m, "x, y")) << m;

  m = run_error(e, {{"x", good}, {"y", test::f32({4, 3}, {1})}});
  EXPECT_TRUE(contains(m, "'y'") && contains(m, "'batch'") && contains(m, "2") && contains(m, "4")) << m;

  Tensor no_data = Tensor::wrap(DataType::kFloat32, {2, 3}, nullptr);
  m = run_error(e, {{"x", no_data}, {"y", good}});
  EXPECT_TRUE(contains(m, "'x'")) << m;

  auto ctx = e.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  EXPECT_FALSE((*ctx)->run({{"x", good}, {"y", good}}, nullptr).ok());
}

TEST(Runtime, ShapeChangesReplanAndStayCorrect) {
  const Engine e = add_engine();
  auto ctx = e.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;  // reused across calls: a stale binding must never leak into the next shape
  for (int64_t batch : {1, 6, 2, 6, 0, 3, 1}) {
    std::vector<float> xs, ys;
    for (int64_t i = 0; i < batch * 3; ++i) {
      xs.push_back(static_cast<float>(i) + 0.25f * static_cast<float>(batch));
      ys.push_back(-2.0f * static_cast<float>(i));
    }
    NamedTensors in{{"x", test::f32({batch, 3}, xs)}, {"y", test::f32({batch, 3}, ys)}};
    Status s = (*ctx)->run(in, &out);
    ASSERT_TRUE(s.ok()) << "batch " << batch << ": " << s.message();
    const Tensor& z = out.at("z");
    ASSERT_EQ(z.shape(), (Dims{batch, 3})) << "batch " << batch;
    for (size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(z.data_as<float>()[i], xs[i] + ys[i]) << "batch " << batch;
  }
}

TEST(Runtime, BoundOutputsAreWrittenInPlace) {
  const Engine e = add_engine();
  auto ctx = e.create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors in{{"x", test::f32({2, 3}, {1, 2, 3})}, {"y", test::f32({2, 3}, {10})}};
  float buf[6] = {};
  NamedTensors out{{"z", Tensor::wrap(DataType::kFloat32, {2, 3}, buf)}};
  ASSERT_TRUE((*ctx)->run(in, &out).ok());
  EXPECT_EQ(out.at("z").data(), buf);
  EXPECT_EQ(buf[0], 11.0f);
  EXPECT_EQ(buf[5], 13.0f);
  // A binding of the wrong shape is replaced, not written past its end.
  float small[2] = {-1, -1};
  out["z"] = Tensor::wrap(DataType::kFloat32, {1, 2}, small);
  ASSERT_TRUE((*ctx)->run(in, &out).ok());
  EXPECT_NE(out.at("z").data(), small);
  EXPECT_EQ(out.at("z").shape(), (Dims{2, 3}));
  EXPECT_EQ(small[0], -1.0f);
  EXPECT_EQ(small[1], -1.0f);
}

TEST(Runtime, ContextsOfOneEngineAreIndependent) {
  Builder b(test::quiet_config());
  auto e = b.build_from_bytes(test::mlp_model(true).SerializeAsString(), "mlp.onnx");
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto c1 = e->create_execution_context();
  auto c2 = e->create_execution_context();
  ASSERT_TRUE(c1.ok() && c2.ok());
  NamedTensors in1{{"x", test::f32({1, 4}, {1, 2, 3, 4})}}, in2{{"x", test::f32({3, 4}, {-1, 0.5f})}};
  NamedTensors o1, o2, o1b;
  ASSERT_TRUE((*c1)->run(in1, &o1).ok());
  ASSERT_TRUE((*c2)->run(in2, &o2).ok());
  ASSERT_TRUE((*c1)->run(in1, &o1b).ok());
  EXPECT_TRUE(test::same_bits(o1.at("y"), o1b.at("y")));
  EXPECT_EQ(o2.at("y").shape(), (Dims{3, 3}));
  for (float v : test::floats(o2.at("y"))) EXPECT_TRUE(v >= 0.5f && v < 1.0f) << v;  // sigmoid of a relu
}

}  // namespace
}  // namespace kiln
