// The runtime's device path (backends/device.h) on the cuda backend: the builder's copy layers,
// the device arena, device copies of constants, host fallbacks in the middle of device layers,
// outputs copied back before run() returns. Skips where the cuda backend is not compiled in or
// has no GPU, saying so.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/backend.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

const Backend* usable_cuda() {
  const Backend* b = find_backend("cuda");
  return b && b->available().ok() ? b : nullptr;
}

#define SKIP_WITHOUT_CUDA()                                                                          \
  do {                                                                                               \
    const Backend* cuda = find_backend("cuda");                                                      \
    if (!cuda) GTEST_SKIP() << "skipped: no CUDA device (the cuda backend is not compiled in)";    \
    if (!usable_cuda()) GTEST_SKIP() << "skipped: no CUDA device (" << cuda->available().message() << ")"; \
  } while (0)

// x -> Relu -> Sin (no CUDA kernel: a host fallback) -> Mul by a constant -> Sigmoid = y, and the
// Relu's output is a graph output too.
std::unique_ptr<Graph> mixed_graph() {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::sym("n"), Dim::known(33)});
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* c = g->add_value("c");
  Value* y = g->add_value("y");
  test::op(*g, "Relu", {x}, {a}, "relu");
  test::op(*g, "Sin", {a}, {b}, "sin");
  test::op(*g, "Mul", {b, g->add_constant("k", test::f32({33}, {0.5f, -2.0f, 3.0f}))}, {c}, "mul");
  test::op(*g, "Sigmoid", {c}, {y}, "sigmoid");
  g->add_output(y);
  g->add_output(a);
  return g;
}

TEST(DeviceRuntime, CopyLayersAroundHostFallbacks) {
  SKIP_WITHOUT_CUDA();
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 1;  // no fusion: each op its own layer, as the comments below count them
  auto e = test::build(mixed_graph(), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  int to_device = 0, to_host = 0;
  for (const LayerInfo& l : e->info().layers) {
    if (l.op == "kiln.CopyToDevice") ++to_device;
    if (l.op == "kiln.CopyToHost") ++to_host;
    if (l.name == "relu" || l.name == "sigmoid") {
      EXPECT_EQ(l.backend, "cuda") << l.name;
    }
    if (l.name == "sin") {
      EXPECT_EQ(l.backend, "reference") << l.name;
    }
  }
  EXPECT_GE(to_device, 2);  // x to the device, Sin's output back
  EXPECT_GE(to_host, 3);    // Relu's output for Sin, both graph outputs
  auto ref = test::build(mixed_graph());
  ASSERT_TRUE(ref.ok());
  auto ctx = e->create_execution_context();
  auto rctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && rctx.ok());
  for (int64_t n : {5, 5, 130}) {  // a second run at one shape reuses the plan; then a new shape
    std::vector<float> xv;
    for (int64_t i = 0; i < n * 33; ++i) xv.push_back(static_cast<float>((i * 37) % 101) / 25.0f - 2.0f);
    const NamedTensors in{{"x", test::f32({n, 33}, xv)}};
    NamedTensors out, want;
    Status s = (*ctx)->run(in, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE((*rctx)->run(in, &want).ok());
    for (const char* name : {"a", "y"}) {
      const std::vector<float> got = test::floats(out.at(name)), exp = test::floats(want.at(name));
      ASSERT_EQ(got.size(), exp.size()) << name;
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], exp[i], 1e-6f) << name << " at " << i << " n " << n;
    }
  }
}

TEST(DeviceRuntime, NoCudaMeansASentence) {
  const Backend* cuda = find_backend("cuda");
  if (!cuda) GTEST_SKIP() << "skipped: the cuda backend is not compiled in";
  if (usable_cuda()) GTEST_SKIP() << "skipped: this machine has a CUDA device (the refusal is for machines without one)";
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  auto e = test::build(mixed_graph(), config);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("cuda"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("no CUDA device"), std::string::npos) << e.status().message();
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// An If whose branches read a value a device layer computes: the builder copies it to the host
// under its own name for the bodies (which run in host memory).
TEST(DeviceRuntime, SubgraphReadsOfDeviceValues) {
  SKIP_WITHOUT_CUDA();
  auto make = [] {
    auto g = test::new_graph();
    Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::known(6)});
    Value* cond = test::input(*g, "cond", DataType::kBool, SymShape{});
    Value* r = g->add_value("r");
    test::op(*g, "Relu", {x}, {r}, "relu");
    auto branch = [&](const char* name, const char* op) {
      auto b = std::make_shared<Graph>();
      b->name = name;
      b->parent = g.get();
      b->opset_imports[""] = 17;
      Value* ref = b->add_value("r", DataType::kFloat32, sym_shape({6}));
      b->add_outer_ref(ref);
      Value* out = b->add_value(std::string(name) + "_out");
      test::op(*b, op, {ref}, {out});
      b->add_output(out);
      Attribute a;
      a.kind = Attribute::Kind::kGraph;
      a.g = b;
      return a;
    };
    Value* y = g->add_value("y");
    Node* n = test::op(*g, "If", {cond}, {y}, "if");
    n->attrs.set("then_branch", branch("then", "Neg"));
    n->attrs.set("else_branch", branch("else", "Sigmoid"));
    g->add_output(y);
    return g;
  };
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 1;
  auto e = test::build(make(), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  for (const LayerInfo& l : e->info().layers) {
    if (l.name == "relu") {
      EXPECT_EQ(l.backend, "cuda");
    }
  }
  auto ref = test::build(make());
  ASSERT_TRUE(ref.ok());
  auto ctx = e->create_execution_context();
  auto rctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && rctx.ok());
  for (bool c : {true, false}) {
    auto cond = Tensor::allocate(DataType::kBool, {});
    ASSERT_TRUE(cond.ok());
    cond->data_as<uint8_t>()[0] = c;
    const NamedTensors in{{"x", test::f32({6}, {-1.5f, 2.0f, 0.25f, -3.0f, 4.0f, 0.5f})}, {"cond", *cond}};
    NamedTensors out, want;
    Status s = (*ctx)->run(in, &out);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE((*rctx)->run(in, &want).ok());
    EXPECT_TRUE(test::same_bits(out.at("y"), want.at("y"))) << "cond " << c;
  }
}

}  // namespace
}  // namespace kiln
