// kiln's own cpu kernels (LayerNormalization, kiln.RMSNormalization, Split, Concat, Transpose,
// Gather, Slice): the cpu backend lowers these ops to them (so the harness compares them, not the
// reference fallback), they report errors as the reference does, and several contexts running
// one engine at once get the single-threaded bits.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "fmt/format.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

Value* constant_i64(Graph& g, const std::string& name, const Dims& dims,
                    const std::vector<int64_t>& v) {
  return g.add_constant(name, test::i64(dims, v));
}

Value* constant_f32(Graph& g, const std::string& name, const Dims& dims) {
  std::vector<float> v;
  for (int64_t i = 0; i < element_count(dims); ++i)
    v.push_back(0.5f + static_cast<float>(i % 7) / 10.0f);
  return g.add_constant(name, test::f32(dims, v));
}

// x [4, 6, 40] -> LayerNormalization -> Transpose(0,2,1) -> Split(axis 1: 16, 24) -> Concat(axis 1
// in swapped order) -> Slice(step 2 on the last axis) -> RMSNormalization = y; and
// Gather(table, ids) = e.
std::unique_ptr<Graph> data_movement_graph() {
  auto g = test::new_graph();
  g->opset_imports["kiln"] = 1;
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({4, 6, 40}));
  Value* ids = test::input(*g, "ids", DataType::kInt64, sym_shape({2, 5}));
  Value* table = test::input(*g, "table", DataType::kFloat32, sym_shape({50, 24}));
  Value* ln = g->add_value("ln");
  Value* tr = g->add_value("tr");
  Value* a = g->add_value("a");
  Value* b = g->add_value("b");
  Value* cat = g->add_value("cat");
  Value* sl = g->add_value("sl");
  Value* y = g->add_value("y");
  Value* e = g->add_value("e");
  test::op(*g, "LayerNormalization",
           {x, constant_f32(*g, "scale", {40}), constant_f32(*g, "bias", {40})}, {ln}, "ln");
  test::op(*g, "Transpose", {ln}, {tr}, "tr")->attrs.set_ints("perm", {0, 2, 1});
  test::op(*g, "Split", {tr, constant_i64(*g, "split", {2}, {16, 24})}, {a, b}, "split")
      ->attrs.set_int("axis", 1);
  test::op(*g, "Concat", {b, a}, {cat}, "cat")->attrs.set_int("axis", 1);
  test::op(*g, "Slice",
           {cat, constant_i64(*g, "starts", {1}, {1}), constant_i64(*g, "ends", {1}, {6}),
            constant_i64(*g, "axes", {1}, {-1}), constant_i64(*g, "steps", {1}, {2})},
           {sl}, "slice");
  Node* rms =
      g->add_node("RMSNormalization", {sl, constant_f32(*g, "rms_scale", {3})}, {y}, "rms", "kiln");
  rms->opset = 1;
  rms->fused_from = {"rms"};
  rms->schema = OpRegistry::global().find("kiln", "RMSNormalization", 1);
  test::op(*g, "Gather", {table, ids}, {e}, "gather");
  g->add_output(y);
  g->add_output(e);
  return g;
}

Result<Engine> build_on(const std::string& backend) {
  BuilderConfig config = test::quiet_config();
  config.backend = backend;
  config.opt_level = 1;  // keep every node as written
  return test::build(data_movement_graph(), config);
}

NamedTensors feeds(int seed) {
  std::vector<float> xv;
  for (int i = 0; i < 4 * 6 * 40; ++i)
    xv.push_back(static_cast<float>((i * 37 + seed * 11) % 29) / 9.0f - 1.5f);
  std::vector<float> tv;
  for (int i = 0; i < 50 * 24; ++i) tv.push_back(static_cast<float>((i * 13 + seed) % 17));
  return {{"x", test::f32({4, 6, 40}, xv)},
          {"ids", test::i64({2, 5}, {seed % 50, 3, -1, 49, -50, 7, 7, 0, 25, -seed % 50})},
          {"table", test::f32({50, 24}, tv)}};
}

TEST(CpuKernels, LowersToOwnKernelsAndMatchesReference) {
  auto cpu = build_on("cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  std::map<std::string, std::string> kernels;
  for (const LayerInfo& l : cpu->info().layers) kernels[l.name] = l.backend + "/" + l.kernel;
  EXPECT_EQ(kernels["ln"], "cpu/cpu_layer_normalization");
  EXPECT_EQ(kernels["tr"], "cpu/cpu_transpose");
  EXPECT_EQ(kernels["split"], "cpu/cpu_split");
  EXPECT_EQ(kernels["cat"], "cpu/cpu_concat");
  EXPECT_EQ(kernels["slice"], "cpu/cpu_slice");
  EXPECT_EQ(kernels["rms"], "cpu/cpu_rms_normalization");
  EXPECT_EQ(kernels["gather"], "cpu/cpu_gather");

  auto ref = build_on("reference");
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto ctx = cpu->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  NamedTensors out, want;
  ASSERT_TRUE((*ctx)->run(feeds(1), &out).ok());
  ASSERT_TRUE((*ref_ctx)->run(feeds(1), &want).ok());
  EXPECT_TRUE(test::same_bits(out.at("e"), want.at("e")));
  const std::vector<float> got = test::floats(out.at("y")), exp = test::floats(want.at("y"));
  ASSERT_EQ(out.at("y").shape(), (Dims{4, 40, 3}));
  ASSERT_EQ(got.size(), exp.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], exp[i], 1e-5f * (1 + std::abs(exp[i]))) << i;
}

TEST(CpuKernels, GatherIndexOutOfRangeIsTheReferenceError) {
  auto cpu = build_on("cpu");
  auto ref = build_on("reference");
  ASSERT_TRUE(cpu.ok() && ref.ok());
  for (int64_t bad : {50, -51}) {
    NamedTensors in = feeds(2);
    in["ids"].data_as<int64_t>()[3] = bad;
    NamedTensors out;
    auto ctx = cpu->create_execution_context();
    auto ref_ctx = ref->create_execution_context();
    ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
    const Status got = (*ctx)->run(in, &out);
    const Status want = (*ref_ctx)->run(in, &out);
    ASSERT_FALSE(want.ok());
    EXPECT_EQ(got.code(), want.code());
    EXPECT_EQ(got.message(), want.message());
    EXPECT_TRUE(test::contains(got.message(),
                               fmt::format("gather index {} is out of range [-50, 50)", bad)))
        << got.message();
  }
}

TEST(CpuKernels, ConcurrentContextsGetTheSameBits) {
  auto cpu = build_on("cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  constexpr int kThreads = 4, kRuns = 20;
  std::vector<NamedTensors> want(kRuns);
  {
    auto ctx = cpu->create_execution_context();
    ASSERT_TRUE(ctx.ok());
    for (int r = 0; r < kRuns; ++r)
      ASSERT_TRUE((*ctx)->run(feeds(r), &want[static_cast<size_t>(r)]).ok());
  }
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = cpu->create_execution_context();
      if (!ctx.ok()) {
        ++mismatches[static_cast<size_t>(t)];
        return;
      }
      for (int r = 0; r < kRuns; ++r) {
        NamedTensors out;
        const int run = (r + t * 7) % kRuns;
        if (!(*ctx)->run(feeds(run), &out).ok()) {
          ++mismatches[static_cast<size_t>(t)];
          continue;
        }
        for (const char* name : {"y", "e"}) {
          if (!test::same_bits(out.at(name), want[static_cast<size_t>(run)].at(name)))
            ++mismatches[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(mismatches[static_cast<size_t>(t)], 0) << "thread " << t;
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// A FusedConv's residual Z summed in place: when nothing reads Z after the conv, the planner gives
// the output Z's buffer (Kernel::inplace_input) and oneDNN accumulates into it; when Z is read
// later (here: by a Neg after it) it must keep its values, so the output gets its own buffer. Both
// give the reference backend's results.
std::unique_ptr<Graph> residual_graph(bool z_read_later) {
  auto g = test::new_graph();
  g->opset_imports["kiln"] = 1;
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({1, 8, 6, 6}));
  Value* z = g->add_value("z");
  Value* y = g->add_value("y");
  test::op(*g, "Conv", {x, constant_f32(*g, "w0", {8, 8, 1, 1})}, {z}, "conv0");
  Node* c = g->add_node("FusedConv", {x, constant_f32(*g, "w1", {8, 8, 3, 3}), constant_f32(*g, "b1", {8}), z}, {y}, "conv1", "kiln");
  c->opset = 1;
  c->fused_from = {"conv1"};
  c->schema = OpRegistry::global().find("kiln", "FusedConv", 1);
  c->attrs.set_ints("pads", {1, 1, 1, 1});
  c->attrs.set_string("post_activation", "Relu");
  Value* out = g->add_value("out");
  test::op(*g, "Neg", {y}, {out}, "read_y");  // so y is an arena value, as between layers
  g->add_output(out);
  if (z_read_later) {
    Value* zr = g->add_value("zr");
    test::op(*g, "Neg", {z}, {zr}, "read_z_after");
    g->add_output(zr);
  }
  return g;
}

TEST(CpuKernels, ResidualSummedInPlaceOnlyWhenZDiesThere) {
  for (bool z_read_later : {false, true}) {
    BuilderConfig cpu = test::quiet_config();
    cpu.backend = "cpu";
    cpu.opt_level = 0;
    auto e = test::build(residual_graph(z_read_later), cpu);
    auto r = test::build(residual_graph(z_read_later));
    ASSERT_TRUE(e.ok() && r.ok());
    std::vector<float> xv;
    for (int i = 0; i < 8 * 36; ++i) xv.push_back(static_cast<float>(i % 11) / 5.0f - 1.0f);
    const NamedTensors in{{"x", test::f32({1, 8, 6, 6}, xv)}};
    auto ctx = e->create_execution_context();
    auto rctx = r->create_execution_context();
    ASSERT_TRUE(ctx.ok() && rctx.ok());
    for (int run = 0; run < 2; ++run) {  // the second run reuses the planned buffers
      NamedTensors out, ref;
      ASSERT_TRUE((*ctx)->run(in, &out).ok());
      ASSERT_TRUE((*rctx)->run(in, &ref).ok());
      for (const auto& [name, t] : ref) {
        const std::vector<float> got = test::floats(out.at(name)), want = test::floats(t);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << name << " z_read_later " << z_read_later;
      }
    }
  }
}

}  // namespace
}  // namespace kiln
