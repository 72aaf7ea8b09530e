// Status/Result and their macros, dtypes, float16/bfloat16 conversion, Tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/float16.h"
#include "kiln/dtype.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {
namespace {

// --- Status / Result -------------------------------------------------------------------------

TEST(Status, OkAndErrors) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "ok");
  Status e = invalid_argument("bad shape");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.to_string(), "bad shape");
  EXPECT_EQ(e.with_context("node 'a'").message(), "node 'a': bad shape");
  EXPECT_EQ(e.with_context("node 'a'").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ok.with_context("ignored").ok());
  EXPECT_EQ(unsupported("x").code(), StatusCode::kUnsupported);
  EXPECT_EQ(corrupt("x").code(), StatusCode::kCorrupt);
  EXPECT_EQ(incompatible("x").code(), StatusCode::kIncompatible);
  EXPECT_STRNE(status_code_name(StatusCode::kCorrupt), status_code_name(StatusCode::kIncompatible));
}

TEST(Result, ValueOrStatus) {
  Result<int> v(7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  EXPECT_TRUE(v.status().ok());
  Result<int> e(not_found("no file"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  // An ok Status is not a value: it must not turn into a "successful" empty Result.
  Result<int> odd{Status()};
  EXPECT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), StatusCode::kInternal);
}

Result<int> half_of(int x) {
  if (x % 2) return invalid_argument("odd");
  return x / 2;
}

int steps_reached = 0;
Status check_even(int x) {
  steps_reached = 0;
  KILN_RETURN_IF_ERROR(half_of(x).status());
  steps_reached = 1;
  return ok_status();
}

Result<int> quarter_of(int x) {
  // Two uses in one function: the macro's temporaries must not collide.
  KILN_ASSIGN_OR_RETURN(int h, half_of(x));
  KILN_ASSIGN_OR_RETURN(int q, half_of(h));
  return q;
}

TEST(StatusMacros, ReturnEarlyOnError) {
  EXPECT_TRUE(check_even(4).ok());
  EXPECT_EQ(steps_reached, 1);
  Status s = check_even(3);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(steps_reached, 0);
  auto q = quarter_of(12);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, 3);
  EXPECT_EQ(quarter_of(6).status().message(), "odd");  // 6/2 = 3 is odd: second step fails
  EXPECT_FALSE(quarter_of(5).ok());
}

// --- dtypes ----------------------------------------------------------------------------------

TEST(DType, NamesAndSizes) {
  EXPECT_EQ(dtype_size(DataType::kFloat32), 4u);
  EXPECT_EQ(dtype_size(DataType::kFloat16), 2u);
  EXPECT_EQ(dtype_size(DataType::kBFloat16), 2u);
  EXPECT_EQ(dtype_size(DataType::kFloat64), 8u);
  EXPECT_EQ(dtype_size(DataType::kInt64), 8u);
  EXPECT_EQ(dtype_size(DataType::kUInt16), 2u);
  EXPECT_EQ(dtype_size(DataType::kBool), 1u);
  EXPECT_EQ(dtype_size(DataType::kString), 0u);
  EXPECT_EQ(dtype_size(DataType::kComplex64), 0u);
  EXPECT_EQ(dtype_size(DataType::kComplex128), 0u);
  EXPECT_EQ(dtype_size(DataType::kFloat8E5M2), 1u);
  EXPECT_STREQ(dtype_name(DataType::kFloat32), "float32");
  EXPECT_STREQ(dtype_name(DataType::kFloat16), "float16");
  EXPECT_STREQ(dtype_name(DataType::kBFloat16), "bfloat16");
  EXPECT_STREQ(dtype_name(DataType::kInt64), "int64");
  EXPECT_STREQ(dtype_name(DataType::kBool), "bool");
  EXPECT_EQ(dtype_from_name("no_such_type"), DataType::kUndefined);
  // Every type a tensor holds round-trips through its name.
  for (int i = 1; i <= 22; ++i) {
    const auto t = static_cast<DataType>(i);
    if (!dtype_is_supported(t)) continue;
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t) << dtype_name(t);
    EXPECT_GT(dtype_size(t), 0u) << dtype_name(t);
  }
  EXPECT_TRUE(dtype_is_float(DataType::kBFloat16));
  EXPECT_FALSE(dtype_is_float(DataType::kInt32));
  EXPECT_TRUE(dtype_is_signed_int(DataType::kInt8));
  EXPECT_TRUE(dtype_is_unsigned_int(DataType::kUInt64));
  EXPECT_FALSE(dtype_is_int(DataType::kBool));
  EXPECT_FALSE(dtype_is_supported(DataType::kString));
}

// --- float16 / bfloat16 ----------------------------------------------------------------------

float f_of_bits(uint32_t b) { return bits_to_float(b); }

TEST(Float16, KnownBitPatterns) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7BFF);   // largest finite
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7BFF);   // below the halfway point to 65536
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);   // halfway: rounds to even, which is inf
  EXPECT_EQ(float_to_half_bits(1e10f), 0x7C00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  // Round to nearest, ties to even.
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie, even below
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie, even above
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);  // past the tie
  // Subnormals.
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);        // tie to even: 0
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.0f, -25)), 0x0002);        // 1.5 ulp: tie to even 2
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25) * 1.01f), 0x0001);  // just past the tie
  EXPECT_EQ(float_to_half_bits(1023 * std::ldexp(1.0f, -24)), 0x03FF);
  EXPECT_EQ(float_to_half_bits(-std::ldexp(1.0f, -24)), 0x8001);
  // Inf and NaN.
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half_bits(-std::numeric_limits<float>::infinity()), 0xFC00);
  const uint16_t nan = float_to_half_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  const uint16_t snan = float_to_half_bits(f_of_bits(0x7F800001u));  // payload below half's mantissa
  EXPECT_EQ(snan & 0x7C00, 0x7C00);
  EXPECT_NE(snan & 0x03FF, 0) << "a NaN must not become inf";

  EXPECT_EQ(half_bits_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_bits_to_float(0x03FF), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(half_bits_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(half_bits_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_bits_to_float(0x7E00)));
  EXPECT_TRUE(std::signbit(half_bits_to_float(0x8000)));
}

TEST(Float16, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = half_bits_to_float(static_cast<uint16_t>(h));
    const bool is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0;
    if (is_nan) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(float_to_half_bits(f), h) << std::hex << h;
  }
}

TEST(BFloat16, KnownBitPatterns) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16_bits(-2.0f), 0xC000);
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x3F808000u)), 0x3F80);  // tie, even below
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x3F818000u)), 0x3F82);  // tie, even above
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x3F808001u)), 0x3F81);  // past the tie
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x3F807FFFu)), 0x3F80);
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x00010000u)), 0x0001);  // subnormal kept
  EXPECT_EQ(float_to_bf16_bits(f_of_bits(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds to inf
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bf16_bits(-std::numeric_limits<float>::infinity()), 0xFF80);
  const uint16_t snan = float_to_bf16_bits(f_of_bits(0x7F800001u));  // payload only in the low half
  EXPECT_EQ(snan & 0x7F80, 0x7F80);
  EXPECT_NE(snan & 0x007F, 0) << "a NaN must not become inf";
  EXPECT_EQ(bf16_bits_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(0x0001), f_of_bits(0x00010000u));
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(0x7FC0)));
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    if ((b & 0x7F80) == 0x7F80 && (b & 0x7F)) continue;  // NaNs
    ASSERT_EQ(float_to_bf16_bits(bf16_bits_to_float(static_cast<uint16_t>(b))), b) << std::hex << b;
  }
}

// --- Tensor ----------------------------------------------------------------------------------

TEST(Tensor, ElementCount) {
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({2, 3, 4}), 24);
  EXPECT_EQ(element_count({0, 5}), 0);
  EXPECT_EQ(element_count({3, -1}), -1);
  EXPECT_EQ(element_count({int64_t{1} << 32, int64_t{1} << 32}), -1);  // 2^64 overflows
  EXPECT_EQ(element_count({std::numeric_limits<int64_t>::max(), 2}), -1);
  EXPECT_EQ(element_count({int64_t{1} << 31, int64_t{1} << 31}), int64_t{1} << 62);
  EXPECT_EQ(dims_to_string({}), "scalar");
  EXPECT_EQ(dims_to_string({1, 3, 224}), "1x3x224");
}

TEST(Tensor, AllocateIsZeroedAndAligned) {
  auto t = Tensor::allocate(DataType::kFloat32, {3, 5});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->numel(), 15);
  EXPECT_EQ(t->nbytes(), 60u);
  EXPECT_EQ(t->rank(), 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data()) % 64, 0u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t->data_as<float>()[i], 0.0f);
  EXPECT_EQ(t->describe(), "float32[3x5]");
  auto s = Tensor::allocate(DataType::kInt64, {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->numel(), 1);
  EXPECT_NE(s->data(), nullptr);

  EXPECT_EQ(Tensor::allocate(DataType::kString, {2}).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(Tensor::allocate(DataType::kFloat32, {2, -3}).status().code(), StatusCode::kInvalidArgument);
  // Absurd but representable: refused without trying to allocate it.
  auto huge = Tensor::allocate(DataType::kFloat32, {int64_t{1} << 30, int64_t{1} << 20});
  EXPECT_EQ(huge.status().code(), StatusCode::kOutOfMemory);
  EXPECT_FALSE(Tensor().defined());
}

TEST(Tensor, WrapCloneReshape) {
  float buf[6] = {1, 2, 3, 4, 5, 6};
  Tensor w = Tensor::wrap(DataType::kFloat32, {2, 3}, buf);
  EXPECT_EQ(w.data(), buf);  // a view, no copy
  Tensor copy = w;
  EXPECT_EQ(copy.data(), buf);  // copies share the buffer

  auto c = w.clone();
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->data(), w.data());
  c->data_as<float>()[0] = 100;
  EXPECT_EQ(buf[0], 1.0f);  // deep copy
  EXPECT_EQ(c->data_as<float>()[5], 6.0f);
  EXPECT_EQ(c->shape(), (Dims{2, 3}));

  auto r = w.reshaped({3, 2});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data(), buf);
  EXPECT_EQ(r->shape(), (Dims{3, 2}));
  EXPECT_EQ(w.shape(), (Dims{2, 3}));  // the original keeps its shape
  EXPECT_EQ(w.reshaped({4, 2}).status().code(), StatusCode::kInvalidArgument);

  // A view kept alive by its keepalive outlives the owner's handle.
  std::weak_ptr<const void> weak;
  Tensor view;
  {
    auto owner = std::shared_ptr<float[]>(new float[4]{9, 8, 7, 6});
    weak = std::shared_ptr<const void>(owner, owner.get());
    view = Tensor::wrap(DataType::kFloat32, {4}, owner.get(), std::shared_ptr<const void>(owner, owner.get()));
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(view.data_as<float>()[3], 6.0f);
}

}  // namespace
}  // namespace kiln
