// One Engine shared by 8 ExecutionContexts on 8 threads, each running 50 times with its own
// inputs (and batch sizes, so contexts re-plan while others run); every result must equal a
// single-threaded run bit for bit. Its own executable (kiln_concurrency_test) so that it can be
// built alone under ThreadSanitizer (-DKILN_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

constexpr int kThreads = 8;
constexpr int kRuns = 50;

Tensor input_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  std::vector<float> v;
  for (int64_t i = 0; i < batch * 4; ++i) v.push_back(static_cast<float>((thread * 131 + run * 17 + i * 7) % 23) / 7.0f - 1.5f);
  return test::f32({batch, 4}, v);
}

// Runs kThreads contexts of `engine` at once (started together to maximize overlap), each
// feeding x = input(thread, run) kRuns times into a reused output map, and expects every result
// to equal want[thread][run] bit for bit.
void expect_threads_match(Engine& engine, const std::vector<std::vector<Tensor>>& want, Tensor (*input)(int, int)) {
  std::vector<std::unique_ptr<ExecutionContext>> contexts;
  for (int t = 0; t < kThreads; ++t) {
    auto ctx = engine.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    contexts.push_back(std::move(*ctx));
  }
  std::atomic<int> mismatches{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      NamedTensors out;  // reused: bound outputs are written in place when the shape repeats
      for (int r = 0; r < kRuns; ++r) {
        if (!contexts[t]->run({{"x", input(t, r)}}, &out).ok()) {
          ++errors;
          continue;
        }
        if (!test::same_bits(out.at("y"), want[t][r])) ++mismatches;
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

// The single-threaded baseline for expect_threads_match, then that check: one context of `engine`
// on this thread runs every input(thread, run) once; with a `reference` engine, every
// `check_every`-th run is also compared with it within tol · (1 + |ref|).
void expect_matches_single_threaded(Engine& engine, Tensor (*input)(int, int), Engine* reference = nullptr,
                                 double tol = 0, int check_every = 1) {
  std::vector<std::vector<Tensor>> want(kThreads, std::vector<Tensor>(kRuns));
  {
    auto ctx = engine.create_execution_context();
    ASSERT_TRUE(ctx.ok());
    std::unique_ptr<ExecutionContext> ref_ctx;
    if (reference) {
      auto c = reference->create_execution_context();
      ASSERT_TRUE(c.ok());
      ref_ctx = std::move(*c);
    }
    for (int t = 0; t < kThreads; ++t) {
      for (int r = 0; r < kRuns; ++r) {
        NamedTensors out, ref_out;
        ASSERT_TRUE((*ctx)->run({{"x", input(t, r)}}, &out).ok());
        if (ref_ctx && r % check_every == 0) {
          ASSERT_TRUE(ref_ctx->run({{"x", input(t, r)}}, &ref_out).ok());
          const std::vector<float> got = test::floats(out.at("y")), ref = test::floats(ref_out.at("y"));
          ASSERT_EQ(got.size(), ref.size());
          for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], ref[i], tol * (1 + std::fabs(ref[i])));
        }
        want[t][r] = out.at("y");
      }
    }
  }
  // Distinct inputs must give distinct outputs somewhere, or equality proves little.
  ASSERT_FALSE(test::same_bits(want[0][0], want[4][0]));

  expect_threads_match(engine, want, input);
}

TEST(Concurrency, EightContextsMatchSingleThreaded) {
  auto engine = Builder(test::quiet_config()).build_from_bytes(test::mlp_model(true).SerializeAsString(), "mlp.onnx");
  ASSERT_TRUE(engine.ok()) << engine.status().message();

  expect_matches_single_threaded(*engine, input_for);
}

// The cpu backend's oneDNN kernels under the same load: a Conv (+Relu, fused) and a MatMul (+Add),
// each context cycling through batch sizes 1..4 so plans are built while other threads execute.
// Single-threaded cpu results are checked against the reference backend first (independent
// arithmetic), then every threaded run must equal them bit for bit.
onnx::ModelProto conv_matmul_model() {
  onnx::ModelProto m = test::new_model();
  test::add_input(m, "x", {"N", "3", "8", "8"});
  std::vector<float> w(4 * 3 * 3 * 3), w2(256 * 5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 37 % 19) - 9) / 10.0f;
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = static_cast<float>(static_cast<int>(i * 53 % 23) - 11) / 50.0f;
  test::add_initializer(m, "W", {4, 3, 3, 3}, w);
  test::add_initializer(m, "B", {4}, {0.1f, -0.2f, 0.3f, -0.4f});
  test::add_initializer(m, "W2", {256, 5}, w2);
  test::add_initializer(m, "b2", {5}, {0.5f, -0.5f, 0.25f, 0, 1});
  auto* conv = test::add_node(m, "Conv", {"x", "W", "B"}, {"c"}, "conv");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  test::add_node(m, "Relu", {"c"}, {"r"}, "relu");
  test::add_node(m, "Flatten", {"r"}, {"f"}, "flatten");
  test::add_node(m, "MatMul", {"f", "W2"}, {"mm"}, "mm");
  test::add_node(m, "Add", {"mm", "b2"}, {"y"}, "bias");
  test::add_output(m, "y", {"N", "5"});
  return m;
}

Tensor image_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  std::vector<float> v;
  for (int64_t i = 0; i < batch * 3 * 64; ++i) v.push_back(static_cast<float>((thread * 131 + run * 17 + i * 7) % 23) / 7.0f - 1.5f);
  return test::f32({batch, 3, 8, 8}, v);
}

TEST(Concurrency, CpuBackendConvMatMulEightContexts) {
  BuilderConfig cpu_config = test::quiet_config();
  cpu_config.backend = "cpu";
  const std::string bytes = conv_matmul_model().SerializeAsString();
  auto engine = Builder(cpu_config).build_from_bytes(bytes, "conv_mm.onnx");
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  auto reference = Builder(test::quiet_config()).build_from_bytes(bytes, "conv_mm.onnx");
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  // The conv and the matmul must really be oneDNN kernels, or this tests the fallback.
  int dnnl_layers = 0;
  for (const LayerInfo& l : engine->info().layers) dnnl_layers += l.kernel.rfind("dnnl_", 0) == 0 && l.backend == "cpu";
  ASSERT_EQ(dnnl_layers, 2);

  expect_matches_single_threaded(*engine, image_for, &*reference, 1e-4);
}

// The cpu backend's own vector kernels under the same load: x * scale + bias -> Sigmoid -> * x
// (one FusedPointwise), GlobalAveragePool, a per-channel broadcast Add of it, ReduceMean over the
// channels; inputs large enough that a run also splits across the thread pool.
onnx::ModelProto pointwise_model() {
  onnx::ModelProto m = test::new_model();
  test::add_input(m, "x", {"N", "8", "48", "48"});
  test::add_initializer(m, "scale", {8, 1, 1}, {0.5f, -1, 2, 0.25f, 1.5f, -0.5f, -2, 1});
  test::add_initializer(m, "bias", {8, 1, 1}, {0.1f, -0.2f, 0.3f, 0, -0.1f, 0.2f, 0.4f, -0.3f});
  test::add_node(m, "Mul", {"x", "scale"}, {"a"}, "mul");
  test::add_node(m, "Add", {"a", "bias"}, {"b"}, "add");
  test::add_node(m, "Sigmoid", {"b"}, {"c"}, "sig");
  test::add_node(m, "Mul", {"c", "x"}, {"d"}, "mul_x");
  test::add_node(m, "GlobalAveragePool", {"d"}, {"p"}, "gap");
  test::add_node(m, "Add", {"d", "p"}, {"q"}, "add_gap");
  auto* mean = test::add_node(m, "ReduceMean", {"q"}, {"y"}, "mean");
  auto* axes = mean->add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(1);
  test::add_output(m, "y", {"N", "1", "48", "48"});
  return m;
}

Tensor planes_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  std::vector<float> v;
  for (int64_t i = 0; i < batch * 8 * 48 * 48; ++i) v.push_back(static_cast<float>((thread * 131 + run * 17 + i * 7) % 23) / 7.0f - 1.5f);
  return test::f32({batch, 8, 48, 48}, v);
}

TEST(Concurrency, CpuBackendPointwiseReduceEightContexts) {
  BuilderConfig cpu_config = test::quiet_config();
  cpu_config.backend = "cpu";
  const std::string bytes = pointwise_model().SerializeAsString();
  auto engine = Builder(cpu_config).build_from_bytes(bytes, "pointwise.onnx");
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  auto reference = Builder(test::quiet_config()).build_from_bytes(bytes, "pointwise.onnx");
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  int cpu_layers = 0, layers = 0;
  for (const LayerInfo& l : engine->info().layers) {
    ++layers;
    cpu_layers += l.kernel.rfind("cpu_", 0) == 0 && l.backend == "cpu";
  }
  ASSERT_EQ(cpu_layers, layers) << "every layer should run a cpu vector kernel";

  // The reference is slow: every 25th run is checked against it.
  expect_matches_single_threaded(*engine, planes_for, &*reference, 1e-5, 25);
}


// The cpu backend's own kernels (kiln.Attention, Softmax; thread-local scratch, parallel_for
// inside each run) under the same load, checked against the reference backend first.
Tensor sequence_for(int thread, int run) {
  const int64_t batch = 1 + (thread + run) % 4;
  std::vector<float> v;
  for (int64_t i = 0; i < batch * 37 * 48; ++i) v.push_back(static_cast<float>((thread * 131 + run * 17 + i * 7) % 23) / 9.0f - 1.2f);
  return test::f32({batch, 37, 48}, v);
}

std::unique_ptr<Graph> attention_softmax_graph() {
  auto g = test::new_graph();
  g->opset_imports["kiln"] = 1;
  Value* x = test::input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("batch"), Dim::known(37), Dim::known(48)});
  Value* a = g->add_value("a");
  Value* y = g->add_value("y");
  Node* attn = g->add_node("Attention", {x, x, x}, {a}, "attn", "kiln");
  attn->opset = 1;
  attn->fused_from = {"attn"};
  attn->schema = OpRegistry::global().find("kiln", "Attention", 1);
  attn->attrs.set_int("num_heads", 3);
  attn->attrs.set_int("causal", 1);
  test::op(*g, "Softmax", {a}, {y}, "softmax");
  g->add_output(y);
  return g;
}

TEST(Concurrency, CpuBackendAttentionSoftmaxEightContexts) {
  BuilderConfig cpu_config = test::quiet_config();
  cpu_config.backend = "cpu";
  auto engine = test::build(attention_softmax_graph(), cpu_config);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  auto reference = test::build(attention_softmax_graph());
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  for (const LayerInfo& l : engine->info().layers) ASSERT_EQ(l.backend, "cpu") << l.op << " ran " << l.kernel;

  expect_matches_single_threaded(*engine, sequence_for, &*reference, 1e-5);
}

}  // namespace
}  // namespace kiln
