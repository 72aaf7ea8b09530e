// --fp16 / --bf16 on a device backend (builder/precision.h): which layers turn 16-bit, the casts
// at the edges of the 16-bit region, converted constants, and the graph's own types kept. The
// rewrite itself needs no GPU (it runs on the lowered graph); the last test runs an engine and
// skips without one.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "backends/backend.h"
#include "builder/precision.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

// x[n,16] -> MatMul(W) = a -> Softmax = b (a graph output) -> Exp = c (kept fp32) -> Sin = d (no
// CUDA kernel: a host fallback) -> Add(d, a) = y.
std::unique_ptr<Graph> mixed_graph() {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::sym("n"), Dim::known(16)});
  std::vector<float> w;
  for (int i = 0; i < 256; ++i) w.push_back(static_cast<float>((i * 7) % 13) / 13.0f - 0.5f);
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* c = g->add_value("c");
  Value* d = g->add_value("d");
  Value* y = g->add_value("y");
  test::op(*g, "MatMul", {x, g->add_constant("W", test::f32({16, 16}, w))}, {a}, "matmul");
  test::op(*g, "Softmax", {a}, {b}, "softmax");
  test::op(*g, "Exp", {b}, {c}, "exp");
  test::op(*g, "Sin", {c}, {d}, "sin");
  test::op(*g, "Add", {d, a}, {y}, "add");
  g->add_output(y);
  g->add_output(b);
  return g;
}

// The graph with each node's kernel chosen as the builder does.
std::unique_ptr<Graph> lowered_for(const Backend& backend) {
  auto g = mixed_graph();
  EXPECT_TRUE(infer_and_annotate(*g).ok());
  for (const auto& n : g->nodes()) {
    const KernelEntry* k = backend.kernels().find(*n);
    EXPECT_NE(k, nullptr) << n->name;
    n->backend = k->backend.empty() ? backend.name() : k->backend;
    n->kernel = k->name;
  }
  return g;
}

const Node* node_named(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes()) {
    if (n->name == name) return n.get();
  }
  return nullptr;
}

class DevicePrecision : public ::testing::TestWithParam<std::string> {};

TEST_P(DevicePrecision, SixteenBitRegionWithCastsAtItsEdges) {
  const Backend* cuda = find_backend("cuda");
  if (!cuda) GTEST_SKIP() << "skipped: the cuda backend is not compiled in";
  const std::string precision = GetParam();
  const DataType low = precision == "fp16" ? DataType::kFloat16 : DataType::kBFloat16;
  auto g = lowered_for(*cuda);
  ASSERT_EQ(node_named(*g, "sin")->backend, "reference");
  Status s = apply_device_precision(*g, *cuda, precision);
  ASSERT_TRUE(s.ok()) << s.message();

  for (const char* name : {"matmul", "softmax", "add"}) {
    const Node* n = node_named(*g, name);
    ASSERT_NE(n, nullptr) << name;
    EXPECT_EQ(n->precision, precision) << name;
    EXPECT_EQ(n->output(0)->dtype, low) << name;
    for (const Value* v : n->inputs()) EXPECT_EQ(v->dtype, low) << name << " reads " << v->name();
  }
  // Exp stays float32 (its results leave fp16's range); the host fallback too.
  for (const char* name : {"exp", "sin"}) {
    const Node* n = node_named(*g, name);
    EXPECT_EQ(n->precision, "") << name;
    EXPECT_EQ(n->input(0)->dtype, DataType::kFloat32) << name;
    EXPECT_EQ(n->output(0)->dtype, DataType::kFloat32) << name;
  }
  // The weights are converted once; the float32 copy is gone from the engine.
  const Value* w = node_named(*g, "matmul")->input(1);
  ASSERT_TRUE(w->constant.has_value());
  EXPECT_EQ(w->constant->dtype(), low);
  EXPECT_EQ(g->find_value("W"), nullptr);

  // Casts: x in, b back for Exp and the caller, d in; y back for the caller. Every one on the
  // device, its `to` matching its output.
  std::map<std::string, int> casts;  // "from>to"
  for (const auto& n : g->nodes()) {
    if (n->op_type != "Cast") continue;
    EXPECT_EQ(n->backend, "cuda") << n->name;
    EXPECT_EQ(n->attrs.get_int("to", 0), static_cast<int64_t>(n->output(0)->dtype)) << n->name;
    ++casts[n->input(0)->name() + ">" + n->output(0)->name()];
  }
  EXPECT_EQ(casts.size(), 4u);
  for (const Value* out : g->outputs()) {
    EXPECT_EQ(out->dtype, DataType::kFloat32) << out->name();
    EXPECT_EQ(out->producer()->op_type, "Cast") << out->name();
  }
  EXPECT_EQ(g->outputs()[0]->name(), "y");
  EXPECT_EQ(g->outputs()[1]->name(), "b");
  EXPECT_EQ(node_named(*g, "exp")->input(0), g->find_value("b")) << "Exp reads the float32 b the caller gets";
  EXPECT_TRUE(g->verify().ok());
}

INSTANTIATE_TEST_SUITE_P(Cuda, DevicePrecision, ::testing::Values("fp16", "bf16"));

TEST(DevicePrecisionRules, Fp32AndHostBackendsChangeNothing) {
  const Backend* cuda = find_backend("cuda");
  const Backend* cpu = find_backend("cpu");
  ASSERT_NE(cpu, nullptr);
  auto g = lowered_for(*cpu);
  const size_t nodes = g->nodes().size();
  ASSERT_TRUE(apply_device_precision(*g, *cpu, "bf16").ok());  // the cpu backend's bf16 is per kernel
  EXPECT_EQ(g->nodes().size(), nodes);
  if (!cuda) GTEST_SKIP() << "skipped: the cuda backend is not compiled in";
  auto h = lowered_for(*cuda);
  ASSERT_TRUE(apply_device_precision(*h, *cuda, "fp32").ok());
  EXPECT_EQ(h->nodes().size(), nodes);
  for (const auto& n : h->nodes()) EXPECT_EQ(n->precision, "") << n->name;
}

// The engine on the GPU: every output within fp16's error of the float32 reference.
TEST(DevicePrecisionRun, Fp16EngineMatchesTheReference) {
  const Backend* cuda = find_backend("cuda");
  if (!cuda || !cuda->available().ok()) GTEST_SKIP() << "skipped: no CUDA device";
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.precision = "fp16";
  config.opt_level = 1;
  auto e = test::build(mixed_graph(), config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  size_t fp16_layers = 0;
  for (const LayerInfo& l : e->info().layers) fp16_layers += l.precision == "fp16";
  EXPECT_GE(fp16_layers, 3u);
  auto ref = test::build(mixed_graph());
  ASSERT_TRUE(ref.ok());
  auto ctx = e->create_execution_context();
  auto rctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && rctx.ok());
  std::vector<float> xv;
  for (int i = 0; i < 7 * 16; ++i) xv.push_back(std::sin(static_cast<float>(i) * 0.37f) * 2.0f);
  const NamedTensors in{{"x", test::f32({7, 16}, xv)}};
  NamedTensors out, want;
  Status s = (*ctx)->run(in, &out);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE((*rctx)->run(in, &want).ok());
  for (const char* name : {"y", "b"}) {
    ASSERT_EQ(out.at(name).dtype(), DataType::kFloat32) << name;
    const std::vector<float> got = test::floats(out.at(name)), exp = test::floats(want.at(name));
    ASSERT_EQ(got.size(), exp.size()) << name;
    double err = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err += (got[i] - exp[i]) * (got[i] - exp[i]);
      norm += exp[i] * exp[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 1e-2) << name;
  }
}

}  // namespace
}  // namespace kiln
