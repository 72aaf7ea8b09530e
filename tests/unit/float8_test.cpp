// float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) and int4/uint4: conversions to and from float against
// the ONNX spec, and the unpacking of 4-bit TensorProtos.
#include "core/float8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "kiln/dtype.h"
#include "onnx/tensor_proto.h"

namespace kiln {
namespace {

constexpr Float8Kind kKinds[] = {Float8Kind::kE4M3FN, Float8Kind::kE4M3FNUZ, Float8Kind::kE5M2,
                                 Float8Kind::kE5M2FNUZ};

const char* kind_name(Float8Kind k) {
  switch (k) {
    case Float8Kind::kE4M3FN:
      return "E4M3FN";
    case Float8Kind::kE4M3FNUZ:
      return "E4M3FNUZ";
    case Float8Kind::kE5M2:
      return "E5M2";
    case Float8Kind::kE5M2FNUZ:
      return "E5M2FNUZ";
  }
  return "?";
}

uint8_t max_bits(Float8Kind k) {
  switch (k) {
    case Float8Kind::kE4M3FN:
      return 0x7e;
    case Float8Kind::kE4M3FNUZ:
      return 0x7f;
    case Float8Kind::kE5M2:
      return 0x7b;
    case Float8Kind::kE5M2FNUZ:
      return 0x7f;
  }
  return 0;
}

bool is_uz(Float8Kind k) { return k == Float8Kind::kE4M3FNUZ || k == Float8Kind::kE5M2FNUZ; }

float dec(uint8_t b, Float8Kind k) { return float8_to_float(b, k); }
uint8_t enc(float f, Float8Kind k, bool saturate = true) { return float_to_float8(f, k, saturate); }

// Every bit pattern decodes to a value that encodes back to the same pattern, with or without
// saturation; NaN patterns stay NaN; the E5M2 infinities stay infinite without saturation.
TEST(Float8, AllBitPatternsRoundTrip) {
  for (Float8Kind k : kKinds) {
    int nans = 0;
    for (int i = 0; i < 256; ++i) {
      const auto b = static_cast<uint8_t>(i);
      const float v = dec(b, k);
      if (std::isnan(v)) {
        ++nans;
        EXPECT_TRUE(float8_is_nan(b, k)) << kind_name(k) << " " << i;
        EXPECT_TRUE(float8_is_nan(enc(v, k, true), k)) << kind_name(k) << " " << i;
        EXPECT_TRUE(float8_is_nan(enc(v, k, false), k)) << kind_name(k) << " " << i;
        continue;
      }
      EXPECT_FALSE(float8_is_nan(b, k)) << kind_name(k) << " " << i;
      if (std::isinf(v)) {
        ASSERT_EQ(k, Float8Kind::kE5M2) << i;
        EXPECT_EQ(enc(v, k, false), b) << i;
        EXPECT_EQ(enc(v, k, true), static_cast<uint8_t>((b & 0x80) | 0x7b)) << i;
        continue;
      }
      EXPECT_EQ(enc(v, k, true), b) << kind_name(k) << " " << i << " = " << v;
      EXPECT_EQ(enc(v, k, false), b) << kind_name(k) << " " << i << " = " << v;
      if (k == Float8Kind::kE4M3FN) {  // the storage type agrees with the free functions
        EXPECT_EQ(static_cast<float>(Float8E4M3FN::from_bits(b)), v);
        EXPECT_EQ(Float8E4M3FN(v).bits, b);
      }
    }
    // FN: S.1111.111 (2); E5M2: 3 mantissas x 2 signs (6); FNUZ: only 0x80 (1).
    const int want_nans = k == Float8Kind::kE4M3FN ? 2 : k == Float8Kind::kE5M2 ? 6 : 1;
    EXPECT_EQ(nans, want_nans) << kind_name(k);
  }
}

// Positive finite patterns 0..max are strictly increasing and negatives mirror them.
TEST(Float8, OrderedAndSymmetric) {
  for (Float8Kind k : kKinds) {
    for (int i = 1; i <= max_bits(k); ++i) {
      EXPECT_LT(dec(static_cast<uint8_t>(i - 1), k), dec(static_cast<uint8_t>(i), k))
          << kind_name(k) << " " << i;
      if (!is_uz(k)) {
        EXPECT_EQ(dec(static_cast<uint8_t>(i | 0x80), k), -dec(static_cast<uint8_t>(i), k));
      }
    }
  }
}

TEST(Float8, KnownValues) {
  EXPECT_EQ(dec(0x7e, Float8Kind::kE4M3FN), 448.0f);
  EXPECT_EQ(dec(0xfe, Float8Kind::kE4M3FN), -448.0f);
  EXPECT_EQ(dec(0x38, Float8Kind::kE4M3FN), 1.0f);
  EXPECT_EQ(dec(0x08, Float8Kind::kE4M3FN), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(dec(0x01, Float8Kind::kE4M3FN), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(dec(0x7f, Float8Kind::kE4M3FNUZ), 240.0f);
  EXPECT_EQ(dec(0x40, Float8Kind::kE4M3FNUZ), 1.0f);
  EXPECT_EQ(dec(0x01, Float8Kind::kE4M3FNUZ), std::ldexp(1.0f, -10));
  EXPECT_EQ(dec(0x7b, Float8Kind::kE5M2), 57344.0f);
  EXPECT_EQ(dec(0x3c, Float8Kind::kE5M2), 1.0f);
  EXPECT_EQ(dec(0x01, Float8Kind::kE5M2), std::ldexp(1.0f, -16));
  EXPECT_EQ(dec(0x7c, Float8Kind::kE5M2), std::numeric_limits<float>::infinity());
  EXPECT_EQ(dec(0xfc, Float8Kind::kE5M2), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(dec(0x7f, Float8Kind::kE5M2FNUZ), 57344.0f);
  EXPECT_EQ(dec(0x40, Float8Kind::kE5M2FNUZ), 1.0f);
  EXPECT_EQ(dec(0x01, Float8Kind::kE5M2FNUZ), std::ldexp(1.0f, -17));
  EXPECT_TRUE(std::signbit(dec(0x80, Float8Kind::kE4M3FN)));
  EXPECT_EQ(dec(0x80, Float8Kind::kE4M3FN), 0.0f);
  EXPECT_TRUE(std::isnan(dec(0x80, Float8Kind::kE4M3FNUZ)));
  EXPECT_TRUE(std::isnan(dec(0x80, Float8Kind::kE5M2FNUZ)));
  EXPECT_TRUE(std::isnan(dec(0x7f, Float8Kind::kE4M3FN)));
  EXPECT_TRUE(std::isnan(dec(0x7d, Float8Kind::kE5M2)));
  // The ONNX Cast test data: float -> E4M3FN.
  EXPECT_EQ(enc(0.47892547f, Float8Kind::kE4M3FN), 47);
  EXPECT_EQ(enc(0.49968487f, Float8Kind::kE4M3FN), 48);
  EXPECT_EQ(enc(0.81910545f, Float8Kind::kE4M3FN), 53);
  EXPECT_EQ(enc(1e-7f, Float8Kind::kE4M3FN), 0);
  EXPECT_EQ(enc(-1e-7f, Float8Kind::kE4M3FN), 0x80);  // -0 exists in FN
  EXPECT_EQ(enc(-1e-7f, Float8Kind::kE4M3FNUZ), 0);   // but not in FNUZ
  EXPECT_EQ(enc(-0.0f, Float8Kind::kE5M2), 0x80);
  EXPECT_EQ(enc(-0.0f, Float8Kind::kE5M2FNUZ), 0);
  EXPECT_EQ(enc(0.72290379f, Float8Kind::kE4M3FNUZ), 60);
  EXPECT_EQ(enc(0.72290379f, Float8Kind::kE5M2FNUZ), 62);
}

// Halfway between two neighbours rounds to the even pattern; just off halfway rounds to the nearer.
TEST(Float8, RoundsToNearestEven) {
  for (Float8Kind k : kKinds) {
    for (int i = 0; i < max_bits(k); ++i) {
      const auto lo = static_cast<uint8_t>(i), hi = static_cast<uint8_t>(i + 1);
      const float a = dec(lo, k), b = dec(hi, k);
      const float mid = (a + b) / 2;  // exact: float has far more precision
      const uint8_t even = (lo & 1) ? hi : lo;
      EXPECT_EQ(enc(mid, k), even) << kind_name(k) << " between " << a << " and " << b;
      EXPECT_EQ(enc(std::nextafter(mid, 0.0f), k), lo) << kind_name(k) << " " << a;
      EXPECT_EQ(enc(std::nextafter(mid, 1e9f), k), hi) << kind_name(k) << " " << b;
      // Negative values mirror (FNUZ included: only zero loses its sign).
      const uint8_t neg_even = even == 0 && is_uz(k) ? 0 : static_cast<uint8_t>(even | 0x80);
      EXPECT_EQ(enc(-mid, k), neg_even) << kind_name(k) << " " << -mid;
    }
    // Below half the smallest subnormal: zero; exactly half: zero (even); above: the subnormal.
    const float tiny = dec(0x01, k);
    EXPECT_EQ(enc(tiny / 2, k), 0);
    EXPECT_EQ(enc(std::nextafter(tiny / 2, 1.0f), k), 1);
    EXPECT_EQ(enc(tiny / 4, k), 0);
    EXPECT_EQ(enc(std::numeric_limits<float>::denorm_min(), k), 0);
  }
  // A case that rounds up through a carry into the exponent: 15.5 in E4M3FN lies halfway between
  // 15 (0x57) and 16 (0x58); 0x58 is even.
  EXPECT_EQ(enc(15.5f, Float8Kind::kE4M3FN), 0x58);
  EXPECT_EQ(dec(0x58, Float8Kind::kE4M3FN), 16.0f);
}

TEST(Float8, Saturation) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Float8Kind k : kKinds) {
    const uint8_t mx = max_bits(k);
    const float max = dec(mx, k);
    // saturate=1: anything beyond the largest finite value (infinities included) clamps.
    EXPECT_EQ(enc(1e6f, k, true), mx) << kind_name(k);
    EXPECT_EQ(enc(-1e6f, k, true), mx | 0x80) << kind_name(k);
    EXPECT_EQ(enc(inf, k, true), mx) << kind_name(k);
    EXPECT_EQ(enc(-inf, k, true), mx | 0x80) << kind_name(k);
    EXPECT_EQ(enc(3.0e38f, k, true), mx) << kind_name(k);
    EXPECT_EQ(enc(max, k, false), mx) << kind_name(k);
    // saturate=0: NaN, or inf for E5M2.
    const uint8_t over = enc(1e6f, k, false);
    const uint8_t under = enc(-1e6f, k, false);
    if (k == Float8Kind::kE5M2) {
      EXPECT_EQ(over, 0x7c);
      EXPECT_EQ(under, 0xfc);
      EXPECT_EQ(enc(inf, k, false), 0x7c);
      EXPECT_EQ(enc(-inf, k, false), 0xfc);
    } else {
      EXPECT_TRUE(float8_is_nan(over, k)) << kind_name(k);
      EXPECT_TRUE(float8_is_nan(under, k)) << kind_name(k);
      EXPECT_TRUE(float8_is_nan(enc(inf, k, false), k)) << kind_name(k);
    }
    EXPECT_TRUE(float8_is_nan(enc(nan, k, true), k)) << kind_name(k);
    EXPECT_TRUE(float8_is_nan(enc(-nan, k, false), k)) << kind_name(k);
  }
  // The overflow decision is made on the rounded value: 464 is halfway between 448 (even) and the
  // next step (480, beyond the range), so it rounds to 448 even without saturation.
  EXPECT_EQ(enc(464.0f, Float8Kind::kE4M3FN, false), 0x7e);
  EXPECT_EQ(enc(465.0f, Float8Kind::kE4M3FN, true), 0x7e);
  EXPECT_TRUE(float8_is_nan(enc(465.0f, Float8Kind::kE4M3FN, false), Float8Kind::kE4M3FN));
  EXPECT_EQ(enc(61439.0f, Float8Kind::kE5M2, false), 0x7b);
  EXPECT_EQ(enc(61440.0f, Float8Kind::kE5M2, false),
            0x7c);  // halfway: the even neighbour is 2^16, past the range
  EXPECT_EQ(enc(61440.0f, Float8Kind::kE5M2, true), 0x7b);
  EXPECT_EQ(enc(250.0f, Float8Kind::kE4M3FNUZ, true), 0x7f);
  EXPECT_EQ(enc(250.0f, Float8Kind::kE4M3FNUZ, false), 0x80);
  // NaN keeps its sign where the type has signed NaNs.
  EXPECT_EQ(enc(std::numeric_limits<float>::quiet_NaN(), Float8Kind::kE4M3FN), 0x7f);
  EXPECT_EQ(enc(-std::numeric_limits<float>::quiet_NaN(), Float8Kind::kE4M3FN), 0xff);
  EXPECT_EQ(enc(std::numeric_limits<float>::signaling_NaN(), Float8Kind::kE5M2FNUZ), 0x80);
}

TEST(Float8, StorageTypes) {
  EXPECT_EQ(Float8E4M3FN(448.0f).bits, 0x7e);
  EXPECT_EQ(Float8E4M3FN(1000.0f, false).bits, 0x7f);
  EXPECT_EQ(static_cast<float>(Float8E5M2::from_bits(0x7b)), 57344.0f);
  EXPECT_EQ(static_cast<float>(Float8E4M3FNUZ(1.0f)), 1.0f);
  EXPECT_EQ(static_cast<float>(Float8E5M2FNUZ(-2.0f)), -2.0f);
  static_assert(dtype_of<Float8E4M3FN>() == DataType::kFloat8E4M3FN);
  static_assert(dtype_of<Int4>() == DataType::kInt4);
}

TEST(Int4, Conversions) {
  EXPECT_EQ(Int4(7.6f).get(), 7);
  EXPECT_EQ(Int4(-9.0f).get(), -8);
  EXPECT_EQ(Int4(2.5f).get(), 2);  // half to even
  EXPECT_EQ(Int4(3.5f).get(), 4);
  EXPECT_EQ(Int4(-2.5f).get(), -2);
  EXPECT_EQ(Int4(std::numeric_limits<float>::quiet_NaN()).get(), 0);
  EXPECT_EQ(Int4(std::numeric_limits<float>::infinity()).get(), 7);
  EXPECT_EQ(UInt4(-1.0f).get(), 0);
  EXPECT_EQ(UInt4(15.5f).get(), 15);
  EXPECT_EQ(UInt4(14.5f).get(), 14);
  EXPECT_EQ(Int4::from_int(100).get(), 7);
  EXPECT_EQ(UInt4::from_int(-3).get(), 0);
  // Only the low nibble counts: a stray byte still reads as a 4-bit value.
  Int4 s;
  s.value = 15;
  EXPECT_EQ(s.get(), -1);
  UInt4 u;
  u.value = 0xf3;
  EXPECT_EQ(u.get(), 3);
  for (int v = -8; v <= 7; ++v) EXPECT_EQ(Int4(static_cast<float>(v)).get(), v);
  for (int v = 0; v <= 15; ++v) EXPECT_EQ(static_cast<float>(UInt4(static_cast<float>(v))), v);
}

TEST(LowBitDtypes, AreOneByteTensorTypes) {
  for (DataType t : {DataType::kFloat8E4M3FN, DataType::kFloat8E4M3FNUZ, DataType::kFloat8E5M2,
                     DataType::kFloat8E5M2FNUZ, DataType::kInt4, DataType::kUInt4}) {
    EXPECT_EQ(dtype_size(t), 1u) << dtype_name(t);
    EXPECT_TRUE(dtype_is_supported(t)) << dtype_name(t);
    EXPECT_TRUE(dtype_is_lowbit(t)) << dtype_name(t);
    EXPECT_TRUE(dispatch_lowbit(t, [](auto) { return ok_status(); }).ok());
    // The arithmetic dispatchers keep refusing them.
    EXPECT_EQ(dispatch_all(t, [](auto) { return ok_status(); }).code(), StatusCode::kUnsupported);
    EXPECT_EQ(dispatch_numeric(t, [](auto) { return ok_status(); }).code(),
              StatusCode::kUnsupported);
    EXPECT_EQ(dispatch_float(t, [](auto) { return ok_status(); }).code(), StatusCode::kUnsupported);
  }
  EXPECT_EQ(dispatch_lowbit(DataType::kFloat32, [](auto) { return ok_status(); }).code(),
            StatusCode::kUnsupported);
}

// --- TensorProto: 4-bit unpacking, float8 in int32_data --------------------------------------

std::vector<int> int4_values(const Tensor& t) {
  std::vector<int> v;
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.dtype() == DataType::kInt4)
      v.push_back(t.data_as<Int4>()[i].get());
    else
      v.push_back(t.data_as<UInt4>()[i].get());
  }
  return v;
}

TEST(Int4Proto, UnpacksRawAndInt32Data) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::INT4);
  p.add_dims(5);  // odd: the last byte's high nibble is padding
  p.set_raw_data(std::string("\x10\xc7\x08", 3));
  auto t = tensor_from_proto(p, "", "t");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->dtype(), DataType::kInt4);
  EXPECT_EQ(int4_values(*t), (std::vector<int>{0, 1, 7, -4, -8}));
  // Stored unpacked, sign-extended.
  EXPECT_EQ(t->data_as<int8_t>()[3], -4);

  onnx::TensorProto q;
  q.set_data_type(onnx::TensorProto::UINT4);
  q.add_dims(2);
  q.add_dims(2);
  q.add_int32_data(0x21);
  q.add_int32_data(0xf3);
  auto u = tensor_from_proto(q, "", "u");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(int4_values(*u), (std::vector<int>{1, 2, 3, 15}));

  onnx::TensorProto e;  // empty
  e.set_data_type(onnx::TensorProto::INT4);
  e.add_dims(0);
  auto z = tensor_from_proto(e, "", "e");
  ASSERT_TRUE(z.ok()) << z.status().to_string();
  EXPECT_EQ(z->numel(), 0);
}

TEST(Int4Proto, RefusesWrongSizes) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::INT4);
  p.add_dims(5);
  p.set_raw_data(std::string("\x10\xc7", 2));  // needs 3 bytes
  EXPECT_EQ(tensor_from_proto(p, "", "t").status().code(), StatusCode::kCorrupt);
  p.set_raw_data(std::string(5, '\0'));  // one byte per element is not the ONNX layout
  EXPECT_EQ(tensor_from_proto(p, "", "t").status().code(), StatusCode::kCorrupt);

  onnx::TensorProto q;
  q.set_data_type(onnx::TensorProto::UINT4);
  q.add_dims(1000000000);  // huge shape, no data: refused before allocating
  q.add_int32_data(1);
  EXPECT_EQ(tensor_from_proto(q, "", "q").status().code(), StatusCode::kCorrupt);
}

TEST(Float8Proto, RawAndInt32Data) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT8E4M3FN);
  p.add_dims(3);
  p.add_int32_data(0x38);
  p.add_int32_data(0x7e);
  p.add_int32_data(0xff);
  auto t = tensor_from_proto(p, "", "t");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->dtype(), DataType::kFloat8E4M3FN);
  EXPECT_EQ(static_cast<float>(t->data_as<Float8E4M3FN>()[0]), 1.0f);
  EXPECT_EQ(static_cast<float>(t->data_as<Float8E4M3FN>()[1]), 448.0f);
  EXPECT_TRUE(std::isnan(static_cast<float>(t->data_as<Float8E4M3FN>()[2])));

  onnx::TensorProto r;
  r.set_data_type(onnx::TensorProto::FLOAT8E5M2FNUZ);
  r.add_dims(2);
  r.set_raw_data(std::string("\x40\x80", 2));
  auto u = tensor_from_proto(r, "", "r");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(static_cast<float>(u->data_as<Float8E5M2FNUZ>()[0]), 1.0f);
  EXPECT_TRUE(std::isnan(static_cast<float>(u->data_as<Float8E5M2FNUZ>()[1])));
}

}  // namespace
}  // namespace kiln
