// The builder's configuration errors, and shape profiles.
#include <gtest/gtest.h>

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
