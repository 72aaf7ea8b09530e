// The pooling, cast and logic kernel families (src/backends/cuda/kernels/pool.h, cast.h, logic.h,
// copy.h's expand) at the kernel level: guard bytes around every output, outputs poisoned first,
// pointers on and off 16-byte alignment (vector and scalar paths), against host loops written from
// the reference kernels' definitions (bit for bit: these kernels compute exactly as the reference
// does). Whole-graph comparisons with the reference backend itself are in device_backend_test.cpp.
//
// The GPU cases skip ("skipped: no CUDA device") where the runtime finds no device; the argument
// checks, which return before any CUDA call, run everywhere.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/kernels/copy.h"
#include "backends/cuda/kernels/logic.h"
#include "backends/cuda/kernels/pool.h"
#include "core/float16.h"
#include "unit/cuda_test_util.h"

namespace kiln::cuda {
namespace {

using ::kiln::test::cuda::kGuardBytes;
using ::kiln::test::cuda::kPoison;

class CudaPoolLogicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KILN_SKIP_WITHOUT_CUDA_DEVICE();
    KILN_CUDA_ASSERT(cudaStreamCreate(&stream_));
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
};

// `bytes` device bytes starting `misalign` bytes past a 256-byte boundary, guard zones around.
class Buffer {
 public:
  Buffer(size_t bytes, size_t misalign) : bytes_(bytes), misalign_(misalign) {
    if (cudaMalloc(&base_, total()) != cudaSuccess) base_ = nullptr;
  }
  ~Buffer() {
    if (base_) cudaFree(base_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* get() const { return static_cast<char*>(base_) + kGuardBytes + misalign_; }
  size_t total() const { return bytes_ + misalign_ + 2 * kGuardBytes; }
  bool allocated() const { return base_ != nullptr; }
  cudaError_t poison() const { return cudaMemset(base_, kPoison, total()); }
  cudaError_t upload(const void* src) const { return cudaMemcpy(get(), src, bytes_, cudaMemcpyHostToDevice); }
  // The usable bytes into dst, and whether every guard byte still holds kPoison.
  cudaError_t download(void* dst, bool* guards_hold) const {
    std::vector<uint8_t> all(total());
    const cudaError_t e = cudaMemcpy(all.data(), base_, total(), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return e;
    const size_t begin = kGuardBytes + misalign_, end = begin + bytes_;
    *guards_hold = true;
    for (size_t i = 0; i < all.size(); ++i) {
      if ((i < begin || i >= end) && all[i] != kPoison) *guards_hold = false;
    }
    std::memcpy(dst, all.data() + begin, bytes_);
    return cudaSuccess;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_, misalign_;
};

// Uploads host values into a fresh poisoned buffer.
template <typename H>
std::unique_ptr<Buffer> device_copy(const std::vector<H>& v, size_t misalign) {
  auto b = std::make_unique<Buffer>(v.size() * sizeof(H), misalign);
  if (!b->allocated() || b->poison() != cudaSuccess || (!v.empty() && b->upload(v.data()) != cudaSuccess)) return nullptr;
  return b;
}

// Runs the stream dry and reads out `n` H values, checking the guards.
template <typename H>
void read_back(cudaStream_t stream, const Buffer& b, std::vector<H>& out) {
  KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
  bool guards = false;
  KILN_CUDA_ASSERT(b.download(out.data(), &guards));
  EXPECT_TRUE(guards) << "a kernel wrote outside its output";
}

template <typename H>
uint32_t bits_of(H v) {
  if constexpr (std::is_same_v<H, float>) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  } else {
    return v.bits;
  }
}

template <typename H>
constexpr DataType kDtype = std::is_same_v<H, float> ? DataType::kFloat32 : DataType::kFloat16;

// --- pooling -----------------------------------------------------------------------------------

// A 2-D channels-last pool as the reference walks it: for each output position and channel the
// in-bounds taps in row-major order; max keeps the first and every greater tap, average sums in
// float and divides once.
template <typename H>
std::vector<H> host_pool_nhwc(PoolOp op, const std::vector<H>& x, int64_t n, int64_t h, int64_t w, int64_t c, const PoolShape& s) {
  std::vector<H> y(static_cast<size_t>(n * s.out[0] * s.out[1] * c));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < s.out[0]; ++oy)
      for (int64_t ox = 0; ox < s.out[1]; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          float acc = 0;
          int64_t taps = 0;
          for (int64_t ky = 0; ky < s.kernel[0]; ++ky) {
            const int64_t iy = oy * s.strides[0] - s.pad_begin[0] + ky * s.dilations[0];
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < s.kernel[1]; ++kx) {
              const int64_t ix = ox * s.strides[1] - s.pad_begin[1] + kx * s.dilations[1];
              if (ix < 0 || ix >= w) continue;
              const float v = static_cast<float>(x[static_cast<size_t>(((b * h + iy) * w + ix) * c + ch)]);
              if (op == PoolOp::kMax) {
                acc = (taps == 0 || v > acc) ? v : acc;
              } else {
                acc += v;
              }
              ++taps;
            }
          }
          if (op != PoolOp::kMax) {
            const float count = op == PoolOp::kAverageIncludePad ? static_cast<float>(s.kernel[0] * s.kernel[1]) : static_cast<float>(taps);
            acc = count > 0 ? acc / count : 0.f;
          }
          y[static_cast<size_t>(((b * s.out[0] + oy) * s.out[1] + ox) * c + ch)] = H(acc);
        }
  return y;
}

template <typename H>
void check_pool_nhwc(cudaStream_t stream, PoolOp op, int64_t c, size_t misalign) {
  SCOPED_TRACE(::testing::Message() << "op " << static_cast<int>(op) << " C " << c << " misalign " << misalign << " dtype "
                                    << dtype_name(kDtype<H>));
  const int64_t n = 2, h = 9, w = 8;
  PoolShape s;
  s.spatial_rank = 2;
  s.outer = n;
  s.inner = c;
  s.in[0] = h;
  s.in[1] = w;
  s.kernel[0] = 3;
  s.kernel[1] = 2;
  s.strides[0] = 2;
  s.strides[1] = 1;
  s.dilations[0] = 1;
  s.dilations[1] = 2;
  s.pad_begin[0] = 1;
  s.pad_begin[1] = 2;
  s.out[0] = 5;  // (9 + 1 + 1 - 3) / 2 + 1, end pad 1
  s.out[1] = 8;  // (8 + 2 + 0 - 3) / 1 + 1, end pad 0
  std::mt19937 rng(static_cast<uint32_t>(c * 31 + misalign));
  std::uniform_real_distribution<float> dist(-4, 4);
  std::vector<H> x(static_cast<size_t>(n * h * w * c));
  for (H& v : x) v = H(dist(rng));
  const std::vector<H> want = host_pool_nhwc(op, x, n, h, w, c, s);
  auto dx = device_copy(x, misalign);
  ASSERT_TRUE(dx);
  Buffer dy(want.size() * sizeof(H), misalign);
  ASSERT_TRUE(dy.allocated());
  KILN_CUDA_ASSERT(dy.poison());
  KILN_CUDA_ASSERT(pool(op, s, dx->get(), dy.get(), kDtype<H>, stream));
  std::vector<H> got(want.size());
  read_back(stream, dy, got);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << "element " << i << ": " << static_cast<float>(got[i]) << " vs "
                                                 << static_cast<float>(want[i]);
  }
}

TEST_F(CudaPoolLogicTest, ChannelsLastPoolsOnBothPaths) {
  for (PoolOp op : {PoolOp::kMax, PoolOp::kAverage, PoolOp::kAverageIncludePad}) {
    // C a whole number of 16-byte packs, aligned: the vector path; misaligned or C = 5: scalar.
    for (size_t misalign : {size_t{0}, size_t{4}}) {
      check_pool_nhwc<float>(stream_, op, 8, misalign);
      check_pool_nhwc<float>(stream_, op, 5, misalign);
      check_pool_nhwc<Float16>(stream_, op, 16, misalign == 0 ? 0 : 2);
      check_pool_nhwc<Float16>(stream_, op, 5, misalign == 0 ? 0 : 2);
    }
  }
}

// The reference's global max: the first element, then each greater one (NaN only when first;
// of +0 and -0 the first); 0 for an empty row.
TEST_F(CudaPoolLogicTest, GlobalMaxRowsKeepTheFirstOfEqualsAndALeadingNaN) {
  for (int64_t reduced : {int64_t{1}, int64_t{31}, int64_t{1000}, int64_t{5000}}) {
    SCOPED_TRACE(reduced);
    const int64_t rows = 37;
    std::mt19937 rng(static_cast<uint32_t>(reduced));
    std::uniform_real_distribution<float> dist(-3, -1);
    std::vector<float> x(static_cast<size_t>(rows * reduced));
    for (float& v : x) v = dist(rng);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = x.data() + r * reduced;
      if (r % 3 == 0) row[0] = std::nanf("");
      if (r % 5 == 1) row[(r * 7) % reduced] = std::nanf("");
      if (r % 2 == 0 && reduced > 3) {  // zeros of both signs, first one's sign varies by row
        row[(r * 13) % (reduced - 1)] = (r % 4 == 0) ? -0.f : 0.f;
        row[reduced - 1] = (r % 4 == 0) ? 0.f : -0.f;
      }
    }
    std::vector<float> want(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      float acc = 0;
      for (int64_t i = 0; i < reduced; ++i) {
        const float v = x[static_cast<size_t>(r * reduced + i)];
        acc = (i == 0 || v > acc) ? v : acc;
      }
      want[static_cast<size_t>(r)] = acc;
    }
    auto dx = device_copy(x, 4);
    ASSERT_TRUE(dx);
    Buffer dy(want.size() * 4, 0);
    KILN_CUDA_ASSERT(dy.poison());
    KILN_CUDA_ASSERT(global_max_rows(dx->get(), dy.get(), DataType::kFloat32, rows, reduced, stream_));
    std::vector<float> got(want.size());
    read_back(stream_, dy, got);
    for (size_t r = 0; r < want.size(); ++r) EXPECT_EQ(bits_of(got[r]), bits_of(want[r])) << "row " << r;
  }
}

// --- Cast --------------------------------------------------------------------------------------

// The reference's float -> integer: NaN 0, truncation, saturation past the int64 range, wrap.
template <typename I>
I host_float_to_int(double d) {
  if (std::isnan(d)) return I(0);
  d = std::trunc(d);
  if (d >= 9223372036854775808.0) return std::numeric_limits<I>::max();
  if (d < -9223372036854775808.0) return std::numeric_limits<I>::min();
  return static_cast<I>(static_cast<int64_t>(d));
}

TEST_F(CudaPoolLogicTest, CastFloatToInt8AndInt64ToBoolOddSizesMisaligned) {
  const std::vector<float> edges = {std::nanf(""), INFINITY, -INFINITY, 1e20f, -1e20f, 3e9f, -3e9f, 255.5f, -128.9f, 127.9f, -0.5f, 300.f, -300.f};
  std::vector<float> x(1001);
  for (size_t i = 0; i < x.size(); ++i) x[i] = edges[i % edges.size()] * (i % 2 ? 1.f : 0.75f);
  std::vector<int8_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = host_float_to_int<int8_t>(x[i]);
  auto dx = device_copy(x, 4);
  ASSERT_TRUE(dx);
  Buffer dy(want.size(), 1);
  KILN_CUDA_ASSERT(dy.poison());
  KILN_CUDA_ASSERT(cast_numeric(dx->get(), DataType::kFloat32, dy.get(), DataType::kInt8, static_cast<int64_t>(x.size()), stream_));
  std::vector<int8_t> got(want.size());
  read_back(stream_, dy, got);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i << " from " << x[i];

  std::vector<int64_t> ints(777);
  for (size_t i = 0; i < ints.size(); ++i) ints[i] = i % 3 == 0 ? 0 : (int64_t{1} << (i % 63)) * (i % 2 ? 1 : -1);
  auto di = device_copy(ints, 8);
  ASSERT_TRUE(di);
  Buffer db(ints.size(), 3);
  KILN_CUDA_ASSERT(db.poison());
  KILN_CUDA_ASSERT(cast_numeric(di->get(), DataType::kInt64, db.get(), DataType::kBool, static_cast<int64_t>(ints.size()), stream_));
  std::vector<uint8_t> bools(ints.size());
  read_back(stream_, db, bools);
  for (size_t i = 0; i < ints.size(); ++i) ASSERT_EQ(bools[i], ints[i] != 0 ? 1 : 0) << "element " << i;
}

// --- Where, comparisons, Expand --------------------------------------------------------------------

TEST_F(CudaPoolLogicTest, WhereCompareAndExpandBroadcastInsideTheirOutputs) {
  // Where on 2-byte elements: cond [3, 1, 5], x [4, 1], y [5] -> [3, 4, 5], output off alignment.
  const int64_t cd[] = {3, 1, 5}, xd[] = {4, 1}, yd[] = {5};
  std::vector<uint8_t> cond(15);
  std::vector<uint16_t> xv(4), yv(5);
  for (size_t i = 0; i < cond.size(); ++i) cond[i] = static_cast<uint8_t>((i * 7) % 3 == 0 ? 0 : 1 + i % 2);  // non-zero bytes other than 1
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<uint16_t>(0x1000 + i);
  for (size_t i = 0; i < yv.size(); ++i) yv[i] = static_cast<uint16_t>(0x2000 + i);
  auto dc = device_copy(cond, 1);
  auto dxv = device_copy(xv, 2);
  auto dyv = device_copy(yv, 0);
  ASSERT_TRUE(dc && dxv && dyv);
  Buffer dout(60 * 2, 2);
  KILN_CUDA_ASSERT(dout.poison());
  KILN_CUDA_ASSERT(where(dc->get(), cd, 3, dxv->get(), xd, 2, dyv->get(), yd, 1, dout.get(), DataType::kFloat16, stream_));
  std::vector<uint16_t> out(60);
  read_back(stream_, dout, out);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 5; ++k) {
        const uint16_t want = cond[static_cast<size_t>(i * 5 + k)] != 0 ? xv[static_cast<size_t>(j)] : yv[static_cast<size_t>(k)];
        ASSERT_EQ(out[static_cast<size_t>((i * 4 + j) * 5 + k)], want) << i << "," << j << "," << k;
      }

  // Less on int64 [2, 3] against [3]: exact past 2^53.
  const int64_t ad[] = {2, 3}, bd[] = {3};
  const std::vector<int64_t> a = {(int64_t{1} << 53) + 1, -5, INT64_MAX, 0, INT64_MIN, 7};
  const std::vector<int64_t> b = {int64_t{1} << 53, -5, INT64_MAX - 1};
  auto da = device_copy(a, 8);
  auto dbv = device_copy(b, 0);
  ASSERT_TRUE(da && dbv);
  Buffer dl(6, 1);
  KILN_CUDA_ASSERT(dl.poison());
  KILN_CUDA_ASSERT(compare(CompareOp::kLess, da->get(), ad, 2, dbv->get(), bd, 1, dl.get(), DataType::kInt64, stream_));
  std::vector<uint8_t> less(6);
  read_back(stream_, dl, less);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(less[i], a[i] < b[i % 3] ? 1 : 0) << i;

  // Expand of a [3, 1] uint32 column to [2, 3, 4].
  const int64_t ed[] = {3, 1}, od[] = {2, 3, 4};
  const std::vector<uint32_t> col = {11, 22, 33};
  auto dcol = device_copy(col, 4);
  ASSERT_TRUE(dcol);
  Buffer dexp(24 * 4, 4);
  KILN_CUDA_ASSERT(dexp.poison());
  KILN_CUDA_ASSERT(expand(dcol->get(), ed, 2, dexp.get(), od, 3, DataType::kInt32, stream_));
  std::vector<uint32_t> expanded(24);
  read_back(stream_, dexp, expanded);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(expanded[i], col[(i / 4) % 3]) << i;
}

// --- argument checks (no GPU needed: they return before any CUDA call) ------------------------

TEST(CudaPoolLogicHost, ArgumentsCheckedBeforeAnyLaunch) {
  PoolShape s;
  s.spatial_rank = 2;
  s.outer = 1;
  s.inner = 1;
  for (int d = 0; d < 2; ++d) {
    s.in[d] = s.out[d] = 4;
    s.kernel[d] = s.strides[d] = s.dilations[d] = 1;
  }
  EXPECT_TRUE(valid_pool_shape(s));
  auto broken = [&](auto change) {
    PoolShape b = s;
    change(b);
    EXPECT_FALSE(valid_pool_shape(b));
    EXPECT_EQ(pool(PoolOp::kMax, b, nullptr, nullptr, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  };
  broken([](PoolShape& b) { b.spatial_rank = 0; });
  broken([](PoolShape& b) { b.spatial_rank = 4; });
  broken([](PoolShape& b) { b.kernel[1] = 0; });
  broken([](PoolShape& b) { b.strides[0] = 0; });
  broken([](PoolShape& b) { b.dilations[0] = 0; });
  broken([](PoolShape& b) { b.pad_begin[1] = -1; });
  broken([](PoolShape& b) { b.outer = -1; });
  // Valid but missing buffers, or an unknown dtype: refused; nothing to compute: success.
  EXPECT_EQ(pool(PoolOp::kAverage, s, nullptr, nullptr, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  PoolShape empty = s;
  empty.out[0] = 0;
  EXPECT_EQ(pool(PoolOp::kMax, empty, nullptr, nullptr, DataType::kFloat32, nullptr), cudaSuccess);
  EXPECT_EQ(global_max_rows(nullptr, nullptr, DataType::kFloat32, -1, 4, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(global_max_rows(nullptr, nullptr, DataType::kFloat32, 0, 4, nullptr), cudaSuccess);

  EXPECT_TRUE(is_cast_type(DataType::kInt64) && is_cast_type(DataType::kBool) && is_cast_type(DataType::kBFloat16));
  EXPECT_FALSE(is_cast_type(DataType::kFloat64) || is_cast_type(DataType::kUInt16) || is_cast_type(DataType::kString));
  EXPECT_EQ(cast_numeric(nullptr, DataType::kFloat64, nullptr, DataType::kInt32, 4, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cast_numeric(nullptr, DataType::kInt64, nullptr, DataType::kUInt16, 4, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cast_numeric(nullptr, DataType::kInt64, nullptr, DataType::kFloat32, -1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cast_numeric(nullptr, DataType::kInt64, nullptr, DataType::kFloat32, 0, nullptr), cudaSuccess);
  EXPECT_EQ(cast_numeric(nullptr, DataType::kInt64, nullptr, DataType::kFloat32, 3, nullptr), cudaErrorInvalidValue);

  const int64_t two[] = {2}, three[] = {3}, col[] = {3, 1}, row4[] = {2, 3, 4};
  EXPECT_TRUE(is_compare_type(DataType::kBool, CompareOp::kEqual));
  EXPECT_FALSE(is_compare_type(DataType::kBool, CompareOp::kLess));
  EXPECT_FALSE(is_compare_type(DataType::kFloat64, CompareOp::kEqual));
  EXPECT_EQ(compare(CompareOp::kEqual, nullptr, two, 1, nullptr, three, 1, nullptr, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(compare(CompareOp::kLess, nullptr, two, 1, nullptr, two, 1, nullptr, DataType::kBool, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(logic(LogicOp::kAnd, nullptr, two, 1, nullptr, three, 1, nullptr, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(int_binary(BinaryOp::kDiv, nullptr, two, 1, nullptr, two, 1, nullptr, DataType::kInt64, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(int_binary(BinaryOp::kAdd, nullptr, two, 1, nullptr, two, 1, nullptr, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(where(nullptr, two, 1, nullptr, three, 1, nullptr, two, 1, nullptr, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(where(nullptr, two, 1, nullptr, two, 1, nullptr, two, 1, nullptr, DataType::kString, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(logical_not(nullptr, nullptr, -1, nullptr), cudaErrorInvalidValue);
  // Expand: x's dims must be 1 or the output's, and no more of them.
  EXPECT_EQ(expand(nullptr, three, 1, nullptr, row4, 3, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(expand(nullptr, row4, 3, nullptr, col, 2, DataType::kFloat32, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(expand(nullptr, col, 2, nullptr, row4, 3, DataType::kFloat32, nullptr), cudaErrorInvalidValue);  // buffers missing
}

}  // namespace
}  // namespace kiln::cuda
