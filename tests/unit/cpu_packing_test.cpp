// Weights packed at build time (DnnlKernel::pack): stored in the engine as Node::backend_data,
// read back by the kernel in place of repacking, ignored when another oneDNN packed them; and
// --bf16 on the cpu backend (bf16 products, fp32 elsewhere), refused where the CPU lacks bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backends/cpu/dnnl_common.h"
#include "runtime/engine_state.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

std::vector<float> pseudo_random(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>((s >> 8) % 2001) / 1000.0f - 1.0f;  // [-1, 1], rarely 0
  }
  return v;
}

Value* weights(Graph& g, const std::string& name, const Dims& dims, uint32_t seed) {
  return g.add_constant(name, test::f32(dims, pseudo_random(static_cast<size_t>(element_count(dims)), seed)));
}

// x [batch, 8, 10, 10] -> Conv 3x3 (no bias: scaling the weights scales the output) -> y;
// t [batch, 5, 32] -> MatMul [32, 24] -> u.
std::unique_ptr<Graph> conv_and_matmul_graph() {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::sym("batch"), Dim::known(8), Dim::known(10), Dim::known(10)});
  Value* t = test::input(*g, "t", DataType::kFloat32, {Dim::sym("batch"), Dim::known(5), Dim::known(32)});
  Value* y = g->add_value("y");
  Value* u = g->add_value("u");
  test::op(*g, "Conv", {x, weights(*g, "w", {16, 8, 3, 3}, 1)}, {y}, "conv")->attrs.set_ints("pads", {1, 1, 1, 1});
  test::op(*g, "MatMul", {t, weights(*g, "m", {32, 24}, 2)}, {u}, "matmul");
  g->add_output(y);
  g->add_output(u);
  return g;
}

NamedTensors inputs_at(int64_t batch) {
  return {{"x", test::f32({batch, 8, 10, 10}, pseudo_random(static_cast<size_t>(batch * 800), 3))},
          {"t", test::f32({batch, 5, 32}, pseudo_random(static_cast<size_t>(batch * 160), 4))}};
}

BuilderConfig cpu_config(const std::string& precision = "fp32") {
  BuilderConfig c = test::quiet_config();
  c.backend = "cpu";
  c.precision = precision;
  c.profile = {{"x", {1, 8, 10, 10}, {2, 8, 10, 10}, {4, 8, 10, 10}}, {"t", {1, 5, 32}, {2, 5, 32}, {4, 5, 32}}};
  return c;
}

std::shared_ptr<EngineState> build_state(const BuilderConfig& config) {
  BuildInput in;
  in.graph = conv_and_matmul_graph();
  in.source_name = "test";
  auto state = build_engine(std::move(in), config);
  if (!state.ok()) ADD_FAILURE() << state.status().message();
  return state.ok() ? *state : nullptr;
}

NamedTensors run(const Engine& e, const NamedTensors& in) {
  auto ctx = e.create_execution_context();
  EXPECT_TRUE(ctx.ok());
  NamedTensors out;
  Status s = (*ctx)->run(in, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

// ||a - b|| / ||b||
double rel_l2(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = test::floats(a), y = test::floats(b);
  EXPECT_EQ(x.size(), y.size());
  double d = 0, r = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    d += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    r += double(y[i]) * y[i];
  }
  return std::sqrt(d / r);
}

Attribute* packed_weights(Node& n) {
  auto& all = const_cast<std::map<std::string, Attribute>&>(n.backend_data.all());
  auto it = all.find("dnnl_weights");
  return it == all.end() ? nullptr : &it->second;
}

TEST(CpuPacking, WeightsArePackedAtBuildTimeAndSurviveSaveAndLoad) {
  auto state = build_state(cpu_config());
  ASSERT_TRUE(state);
  size_t packed = 0;
  for (const auto& n : state->graph->nodes()) {
    if (packed_weights(*n)) ++packed;
  }
  EXPECT_EQ(packed, 2u);  // the convolution and the product
  Engine built(state);
  auto bytes = built.serialize();
  ASSERT_TRUE(bytes.ok());
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->info().packed_weights_bytes, built.info().packed_weights_bytes);
  EXPECT_GT(loaded->info().packed_weights_bytes, 0u);
  auto reference = test::build(conv_and_matmul_graph());
  ASSERT_TRUE(reference.ok());
  for (int64_t batch : {2, 3}) {  // the build shape, and one the weights were not packed for
    const NamedTensors in = inputs_at(batch);
    const NamedTensors a = run(built, in), b = run(*loaded, in), want = run(*reference, in);
    for (const char* name : {"y", "u"}) {
      EXPECT_TRUE(test::same_bits(a.at(name), b.at(name))) << name;
      EXPECT_LT(rel_l2(a.at(name), want.at(name)), 1e-6) << name << " batch " << batch;
    }
  }
}

// Doubles every packed weight: a kernel that reads the packed copy then gives twice the output,
// one that repacks from the plain weights gives the output unchanged.
void double_packed_weights(EngineState& state) {
  for (const auto& n : state.graph->nodes()) {
    Attribute* a = packed_weights(*n);
    ASSERT_TRUE(a) << n->name;
    Tensor copy = *a->t.clone();  // the original may be shared
    float* f = reinterpret_cast<float*>(copy.data());
    for (size_t i = 0; i < copy.nbytes() / sizeof(float); ++i) f[i] *= 2;
    a->t = copy;
  }
}

TEST(CpuPacking, KernelsReadThePackedCopyInsteadOfRepacking) {
  auto state = build_state(cpu_config());
  ASSERT_TRUE(state);
  const NamedTensors plain_out = run(Engine(state), inputs_at(2));
  double_packed_weights(*state);
  auto doubled = make_engine_state(state->graph, state->meta, nullptr);
  ASSERT_TRUE(doubled.ok());
  const NamedTensors out = run(Engine(*doubled), inputs_at(2));
  for (const char* name : {"y", "u"}) {
    const std::vector<float> got = test::floats(out.at(name)), base = test::floats(plain_out.at(name));
    for (size_t i = 0; i < got.size(); ++i) ASSERT_FLOAT_EQ(got[i], 2 * base[i]) << name << " at " << i;
  }
}

TEST(CpuPacking, WeightsPackedByAnotherOneDnnAreRepackedFromThePlainOnes) {
  auto state = build_state(cpu_config());
  ASSERT_TRUE(state);
  const NamedTensors plain_out = run(Engine(state), inputs_at(2));
  double_packed_weights(*state);
  for (const auto& n : state->graph->nodes()) n->backend_data.set_string("dnnl_version", "0.0.0 elsewhere");
  auto other = make_engine_state(state->graph, state->meta, nullptr);
  ASSERT_TRUE(other.ok());
  const NamedTensors out = run(Engine(*other), inputs_at(2));
  for (const char* name : {"y", "u"}) EXPECT_TRUE(test::same_bits(out.at(name), plain_out.at(name))) << name;
}

TEST(CpuPacking, Bf16ComputesProductsInBf16OrIsRefused) {
  if (!cpu::has_native_bf16()) {
    BuildInput in;
    in.graph = conv_and_matmul_graph();
    auto e = build_engine(std::move(in), cpu_config("bf16"));
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("bf16"), std::string::npos) << e.status().message();
    GTEST_SKIP() << "skipped: this CPU (" << cpu::dnnl_isa_name() << ") has no native bf16; the refusal was checked";
  }
  auto state = build_state(cpu_config("bf16"));
  ASSERT_TRUE(state);
  for (const auto& n : state->graph->nodes()) {
    EXPECT_EQ(n->precision, "bf16") << n->name;
    ASSERT_TRUE(packed_weights(*n)) << n->name;
    const Attribute* desc = n->backend_data.find("dnnl_weights_desc");
    ASSERT_TRUE(desc && desc->t.nbytes() == sizeof(dnnl_memory_desc_t)) << n->name;
    dnnl_memory_desc_t raw;
    std::memcpy(&raw, desc->t.data(), sizeof raw);
    EXPECT_EQ(raw.data_type, dnnl_bf16) << n->name << ": the weights are stored in bf16";
  }
  EXPECT_EQ(Engine(state).info().layers[0].precision, "bf16");
  auto fp32 = test::build(conv_and_matmul_graph());
  ASSERT_TRUE(fp32.ok());
  for (int64_t batch : {2, 3}) {
    const NamedTensors in = inputs_at(batch);
    const NamedTensors got = run(Engine(state), in), want = run(*fp32, in);
    for (const char* name : {"y", "u"}) {
      const double err = rel_l2(got.at(name), want.at(name));
      EXPECT_LT(err, 1e-2) << name;     // bf16 operands, fp32 accumulation
      EXPECT_GT(err, 1e-5) << name;     // and not fp32 in disguise
    }
  }
}

TEST(CpuPacking, Fp16OnCpuIsRefused) {
  BuildInput in;
  in.graph = conv_and_matmul_graph();
  auto e = build_engine(std::move(in), cpu_config("fp16"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(e.status().message().find("fp16"), std::string::npos) << e.status().message();
}

}  // namespace
}  // namespace kiln
