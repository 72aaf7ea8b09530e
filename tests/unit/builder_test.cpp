// The builder's configuration errors, and shape profiles.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/backend.h"
#include "backends/kernel.h"
#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;

Result<Engine> build_mlp(const BuilderConfig& cfg, bool symbolic = true) {
  return Builder(cfg).build_from_bytes(test::mlp_model(symbolic).SerializeAsString(), "mlp.onnx");
}

BuilderConfig with_profile(InputRange r) {
  BuilderConfig cfg = test::quiet_config();
  cfg.profile.push_back(std::move(r));
  return cfg;
}

TEST(Builder, ProfileUnknownInputListsTheInputs) {
  auto e = build_mlp(with_profile({"images", {1, 4}, {2, 4}, {8, 4}}));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(e.status().message(), "'images'")) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), "inputs: x")) << e.status().message();
}

TEST(Builder, ProfileRankMismatch) {
  auto e = build_mlp(with_profile({"x", {1, 4, 1}, {2, 4, 1}, {8, 4, 1}}));
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "rank 3")) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), "rank 2")) << e.status().message();

  e = build_mlp(with_profile({"x", {1, 4}, {2}, {8, 4}}));  // min, opt, max disagree
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "same rank")) << e.status().message();
}

TEST(Builder, ProfileMinAboveMax) {
  auto e = build_mlp(with_profile({"x", {8, 4}, {4, 4}, {2, 4}}));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(e.status().message(), "min <= opt <= max")) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), "dim 0")) << e.status().message();

  e = build_mlp(with_profile({"x", {1, 5}, {1, 5}, {1, 5}}));  // excludes the fixed dim 4
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "fixed size 4")) << e.status().message();
}

TEST(Builder, ProfilePinsSymbolicDim) {
  auto e = build_mlp(with_profile({"x", {3, 4}, {3, 4}, {3, 4}}));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->inputs()[0].dims, (Dims{3, 4}));
  EXPECT_EQ(e->outputs()[0].dims, (Dims{3, 3}));
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  EXPECT_TRUE((*ctx)->run({{"x", test::f32({3, 4}, {1})}}, &out).ok());
  Status s = (*ctx)->run({{"x", test::f32({2, 4}, {1})}}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "'x'")) << s.message();
}

TEST(Builder, ProfileRangeIsEnforcedAtRunTime) {
  auto e = build_mlp(with_profile({"x", {1, 4}, {2, 4}, {4, 4}}));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->inputs()[0].dims, (Dims{-1, 4}));
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  EXPECT_TRUE((*ctx)->run({{"x", test::f32({4, 4}, {1})}}, &out).ok());
  Status s = (*ctx)->run({{"x", test::f32({5, 4}, {1})}}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "profile")) << s.message();
  // The profile survives serialization.
  auto bytes = e->serialize();
  ASSERT_TRUE(bytes.ok());
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto ctx2 = loaded->create_execution_context();
  ASSERT_TRUE(ctx2.ok());
  EXPECT_FALSE((*ctx2)->run({{"x", test::f32({5, 4}, {1})}}, &out).ok());
}

// Two profiles of the MLP's batch: 1..4 and 16..32.
BuilderConfig two_batch_profiles() {
  BuilderConfig cfg = test::quiet_config();
  cfg.profiles = {{{"x", {1, 4}, {2, 4}, {4, 4}}}, {{"x", {16, 4}, {24, 4}, {32, 4}}}};
  return cfg;
}

// Runs `ctx` at batch `n` (inputs vary per row) and checks the output's shape; the status.
Status run_batch(ExecutionContext& ctx, int64_t n) {
  std::vector<float> data;
  for (int64_t i = 0; i < n * 4; ++i) data.push_back(0.25f * static_cast<float>(i % 7) - 0.5f);
  NamedTensors out;
  Status s = ctx.run({{"x", test::f32({n, 4}, data)}}, &out);
  if (s.ok()) {
    EXPECT_EQ(out.at("y").shape(), (Dims{n, 3}));
  }
  return s;
}

TEST(Builder, SeveralProfilesRunInEachAndRefuseBetween) {
  auto e = build_mlp(two_batch_profiles());
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->inputs()[0].dims, (Dims{-1, 4}));  // the profiles disagree on the batch
  ASSERT_EQ(e->info().profiles.size(), 2u);
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  for (int64_t n : {1, 4, 16, 24, 32}) EXPECT_TRUE(run_batch(**ctx, n).ok()) << "batch " << n;
  for (int64_t n : {8, 5, 15, 33}) {
    Status s = run_batch(**ctx, n);
    ASSERT_FALSE(s.ok()) << "batch " << n;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(s.message(), "input 'x' has shape " + std::to_string(n) + "x4")) << s.message();
    EXPECT_TRUE(contains(s.message(), "profile 0: 1x4 .. 4x4")) << s.message();
    EXPECT_TRUE(contains(s.message(), "profile 1: 16x4 .. 32x4")) << s.message();
  }
  // Both profiles survive serialization, and the loaded engine checks both.
  auto bytes = e->serialize();
  ASSERT_TRUE(bytes.ok());
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const auto profiles = loaded->info().profiles;
  ASSERT_EQ(profiles.size(), 2u);
  ASSERT_EQ(profiles[1].size(), 1u);
  EXPECT_EQ(profiles[0][0].input, "x");
  EXPECT_EQ(profiles[0][0].min, (Dims{1, 4}));
  EXPECT_EQ(profiles[0][0].opt, (Dims{2, 4}));
  EXPECT_EQ(profiles[0][0].max, (Dims{4, 4}));
  EXPECT_EQ(profiles[1][0].min, (Dims{16, 4}));
  EXPECT_EQ(profiles[1][0].opt, (Dims{24, 4}));
  EXPECT_EQ(profiles[1][0].max, (Dims{32, 4}));
  auto ctx2 = loaded->create_execution_context();
  ASSERT_TRUE(ctx2.ok());
  EXPECT_TRUE(run_batch(**ctx2, 2).ok());
  EXPECT_TRUE(run_batch(**ctx2, 20).ok());
  EXPECT_FALSE(run_batch(**ctx2, 10).ok());
}

TEST(Builder, SeveralProfilesGiveTheSameResultsAsOne) {
  // A batch in the second profile computes what an engine with no profile computes.
  auto several = build_mlp(two_batch_profiles());
  auto plain = build_mlp(test::quiet_config());
  ASSERT_TRUE(several.ok() && plain.ok());
  std::vector<float> data;
  for (int i = 0; i < 20 * 4; ++i) data.push_back(0.1f * static_cast<float>((i * 5) % 11) - 0.4f);
  NamedTensors a, b;
  ASSERT_TRUE((*several->create_execution_context())->run({{"x", test::f32({20, 4}, data)}}, &a).ok());
  ASSERT_TRUE((*plain->create_execution_context())->run({{"x", test::f32({20, 4}, data)}}, &b).ok());
  const Tensor& ya = a.at("y");
  const Tensor& yb = b.at("y");
  ASSERT_EQ(ya.shape(), yb.shape());
  for (int64_t i = 0; i < ya.numel(); ++i) EXPECT_EQ(ya.data_as<float>()[i], yb.data_as<float>()[i]) << i;
}

// Build-time packing gets every profile's build shapes (KernelEntry::pack); oneDNN's weights are
// packed once all the same (one layout per weight, planned at the first profile's opt shapes), and
// the engine computes what an engine of one profile does.
TEST(Builder, SeveralProfilesPackTheCpuWeightsOnce) {
  const Backend* cpu = find_backend("cpu");
  if (!cpu || !cpu->available().ok()) GTEST_SKIP() << "skipped: no cpu backend here";
  BuilderConfig several_cfg = two_batch_profiles();
  several_cfg.backend = "cpu";
  BuilderConfig one_cfg = with_profile({"x", {1, 4}, {2, 4}, {4, 4}});
  one_cfg.backend = "cpu";
  auto several = build_mlp(several_cfg);
  auto one = build_mlp(one_cfg);
  ASSERT_TRUE(several.ok()) << several.status().message();
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_GT(one->info().packed_weights_bytes, 0u);
  EXPECT_EQ(several->info().packed_weights_bytes, one->info().packed_weights_bytes);
  auto reference = build_mlp(two_batch_profiles());
  ASSERT_TRUE(reference.ok());
  for (int64_t n : {2, 24}) {
    std::vector<float> data;
    for (int64_t i = 0; i < n * 4; ++i) data.push_back(0.1f * static_cast<float>((i * 3) % 13) - 0.6f);
    NamedTensors got, want;
    ASSERT_TRUE((*several->create_execution_context())->run({{"x", test::f32({n, 4}, data)}}, &got).ok());
    ASSERT_TRUE((*reference->create_execution_context())->run({{"x", test::f32({n, 4}, data)}}, &want).ok());
    const std::vector<float> g = test::floats(got.at("y")), w = test::floats(want.at("y"));
    ASSERT_EQ(g.size(), w.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-5 + 1e-5 * std::abs(w[i])) << "batch " << n << " at " << i;
  }
}

// The profiles a tuning pack hook plans for: one per distinct set of the node's input shapes, in
// profile order; a profile where the shapes are unknown counts as its own.
TEST(Builder, ProfilesWithDistinctInputsKeepTheFirstOfEachShape) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, SymShape{Dim::sym("N"), Dim::known(4)});
  Value* w = g->add_constant("w", test::f32({4, 3}, std::vector<float>(12, 0.5f)));
  Value* y = g->add_value("y");
  Value* other = test::input(*g, "other", DataType::kFloat32, SymShape{Dim::sym("M")});
  Node* n = test::op(*g, "MatMul", {x, w}, {y}, "mm");
  std::vector<BuildShapes> profiles(5);
  profiles[0] = {{x, {1, 4}}, {w, {4, 3}}, {y, {1, 3}}, {other, {7}}};
  profiles[1] = {{x, {64, 4}}, {w, {4, 3}}, {y, {64, 3}}, {other, {7}}};
  profiles[2] = {{x, {1, 4}}, {w, {4, 3}}, {y, {1, 3}}, {other, {9}}};  // only another input differs
  profiles[3] = {};                                                     // shapes unknown
  profiles[4] = {{x, {64, 4}}, {w, {4, 3}}};
  const std::vector<const BuildShapes*> kept = profiles_with_distinct_inputs(*n, profiles);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0], &profiles[0]);
  EXPECT_EQ(kept[1], &profiles[1]);
  EXPECT_EQ(kept[2], &profiles[3]);
  EXPECT_TRUE(profiles_with_distinct_inputs(*n, {}).empty());
  EXPECT_EQ(profiles_with_distinct_inputs(*n, {profiles[3]}).size(), 1u);
}

TEST(Builder, TuningSummaryCountsLayersAndProblems) {
  BuildContext b;
  b.tuned_layers = 2;
  b.tuned_problems = 4;
  b.cached_problems = 1;
  b.tuning_seconds = 3.14;
  EXPECT_EQ(b.summary(), "tuned 2 layers (4 problems) in 3.1 s (1 from the timing cache)");
  b.tuned_layers = b.tuned_problems = 1;
  b.cached_problems = 0;
  EXPECT_EQ(b.summary(), "tuned 1 layer (1 problem) in 3.1 s (0 from the timing cache)");
}

TEST(Builder, SeveralProfilesPinOnlyWhereAllAgree) {
  BuilderConfig cfg = test::quiet_config();
  cfg.profiles = {{{"x", {3, 4}, {3, 4}, {3, 4}}}, {{"x", {3, 4}, {3, 4}, {3, 4}}}};
  auto e = build_mlp(cfg);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->inputs()[0].dims, (Dims{3, 4}));
  cfg.profiles = {{{"x", {3, 4}, {3, 4}, {3, 4}}}, {{"x", {5, 4}, {5, 4}, {5, 4}}}};
  e = build_mlp(cfg);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->inputs()[0].dims, (Dims{-1, 4}));
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  EXPECT_TRUE(run_batch(**ctx, 3).ok());
  EXPECT_TRUE(run_batch(**ctx, 5).ok());
  EXPECT_FALSE(run_batch(**ctx, 4).ok());
}

TEST(Builder, SeveralProfilesErrorsNameTheProfile) {
  BuilderConfig cfg = two_batch_profiles();
  cfg.profiles[1][0].input = "images";
  auto e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "shape profile 1 names input 'images'")) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), "inputs: x")) << e.status().message();

  cfg = two_batch_profiles();
  cfg.profiles[1][0] = {"x", {16, 4, 1}, {24, 4, 1}, {32, 4, 1}};
  e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "shape profile 1 for 'x' has rank 3, the input has rank 2")) << e.status().message();

  cfg = two_batch_profiles();
  cfg.profiles[1][0].max = {8, 4};  // below opt
  e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "shape profile 1 for 'x' dim 0: need 0 <= min <= opt <= max")) << e.status().message();

  cfg = two_batch_profiles();
  cfg.profiles[1].push_back(cfg.profiles[1][0]);
  e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "named 2 times")) << e.status().message();

  cfg = two_batch_profiles();
  cfg.profile = {{"x", {1, 4}, {1, 4}, {1, 4}}};
  e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "both `profile` and `profiles`")) << e.status().message();
}

// y = Concat(a, b) on axis 0, a: float[N, 4], b: float[M, 4]: two inputs with their own batch.
onnx::ModelProto concat_model() {
  onnx::ModelProto m = test::new_model();
  test::add_input(m, "a", {"N", "4"});
  test::add_input(m, "b", {"M", "4"});
  auto* n = test::add_node(m, "Concat", {"a", "b"}, {"y"}, "cat");
  auto* axis = n->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(0);
  test::add_output(m, "y", {"S", "4"});
  return m;
}

TEST(Builder, SeveralProfilesOfTwoInputs) {
  BuilderConfig cfg = test::quiet_config();
  cfg.profiles = {{{"a", {1, 4}, {1, 4}, {2, 4}}, {"b", {1, 4}, {1, 4}, {2, 4}}},
                  {{"a", {8, 4}, {8, 4}, {9, 4}}, {"b", {8, 4}, {8, 4}, {9, 4}}}};
  const std::string model = concat_model().SerializeAsString();
  auto e = Builder(cfg).build_from_bytes(model, "concat.onnx");
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  EXPECT_TRUE((*ctx)->run({{"a", test::f32({2, 4}, {1})}, {"b", test::f32({1, 4}, {2})}}, &out).ok());
  EXPECT_TRUE((*ctx)->run({{"a", test::f32({9, 4}, {1})}, {"b", test::f32({8, 4}, {2})}}, &out).ok());
  // Each input fits a profile, but no profile fits both: each profile's miss is named.
  Status s = (*ctx)->run({{"a", test::f32({2, 4}, {1})}, {"b", test::f32({9, 4}, {2})}}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "no single profile")) << s.message();
  EXPECT_TRUE(contains(s.message(), "profile 0: input 'b' has shape 9x4, outside 1x4 .. 2x4")) << s.message();
  EXPECT_TRUE(contains(s.message(), "profile 1: input 'a' has shape 2x4, outside 8x4 .. 9x4")) << s.message();

  // Every profile ranges over the same inputs.
  cfg.profiles[1].pop_back();
  e = Builder(cfg).build_from_bytes(model, "concat.onnx");
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "shape profile 1 gives no range for input 'b'")) << e.status().message();
  cfg.profiles[0].pop_back();
  cfg.profiles[1].push_back({"b", {1, 4}, {1, 4}, {2, 4}});
  e = Builder(cfg).build_from_bytes(model, "concat.onnx");
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "shape profile 1 gives a range for input 'b', which profile 0 does not")) << e.status().message();
}

TEST(Builder, Fp16OnReferenceIsUnsupported) {
  BuilderConfig cfg = test::quiet_config();
  cfg.precision = "fp16";
  auto e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(e.status().message(), "reference")) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), "fp16")) << e.status().message();

  cfg.precision = "fp8";
  EXPECT_EQ(build_mlp(cfg).status().code(), StatusCode::kInvalidArgument);
}

TEST(Builder, UnknownBackendListsTheAvailableOnes) {
  BuilderConfig cfg = test::quiet_config();
  cfg.backend = "tpu9000";
  auto e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(e.status().message(), "'tpu9000'")) << e.status().message();
  for (const BackendAvailability& b : available_backends()) {
    EXPECT_TRUE(contains(e.status().message(), b.name)) << e.status().message();
  }
  bool has_reference = false;
  for (const BackendAvailability& b : available_backends()) has_reference |= b.name == "reference" && b.available;
  EXPECT_TRUE(has_reference);
}

TEST(Builder, OptLevelOutOfRange) {
  BuilderConfig cfg = test::quiet_config();
  cfg.opt_level = 7;
  auto e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "7")) << e.status().message();
  cfg.opt_level = 1;
  cfg.disabled_passes = {"no_such_pass"};
  e = build_mlp(cfg);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.status().message(), "no_such_pass")) << e.status().message();
}

}  // namespace
}  // namespace kiln
