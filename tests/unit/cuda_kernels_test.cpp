// The CUDA kernel layer (src/backends/cuda/kernels/) against CPU references.
//
// Every GPU case uploads random non-zero inputs, poisons its outputs first (0xFF bytes: NaN in
// every float type; two different byte patterns for the copies), checks every CUDA return code,
// checks that the bytes around each output are untouched, and compares with a reference computed
// on the host: in double for the normalizations, softmax and reductions (16-bit results within
// their rounding), and with kiln's own formulas (core/activation.h, the reference kernels' float
// arithmetic) for the elementwise ops, bit for bit where the reference computes exactly. Sizes
// include odd lengths, single-element rows, rows above 4096 and pointers off 16-byte alignment,
// so that vector and scalar paths, warp and block paths all run.
//
// The GPU cases skip ("skipped: no CUDA device") where the runtime finds no device. The host-side
// planning (broadcast plans, collapsed copies, the FusedPointwise decoder, argument checks) is
// tested everywhere.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/kernels/copy.h"
#include "backends/cuda/kernels/fused_pointwise.h"
#include "backends/cuda/kernels/fused_pointwise_decode.h"
#include "backends/cuda/kernels/layer_norm.h"
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/kernels/reduce.h"
#include "backends/cuda/kernels/softmax.h"
#include "core/activation.h"
#include "core/float16.h"
#include "unit/cuda_test_util.h"

namespace kiln::cuda {
namespace {

// --- device access ---------------------------------------------------------------------------

using ::kiln::test::cuda::kGuardBytes;
using ::kiln::test::cuda::kPoison;

// The GPU cases: a stream of their own (the kernels must honour the stream they are given).
class CudaKernelsTest : public ::testing::Test {
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

// `bytes` usable device bytes that start `misalign` bytes past a 256-byte boundary, with guard
// zones on both sides.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, size_t misalign) : bytes_(bytes), misalign_(misalign) {
    if (cudaMalloc(&base_, total()) != cudaSuccess) base_ = nullptr;
  }
  ~DeviceBuffer() {
    if (base_) cudaFree(base_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  bool allocated() const { return base_ != nullptr; }
  void* get() const { return static_cast<char*>(base_) + kGuardBytes + misalign_; }
  size_t total() const { return bytes_ + misalign_ + 2 * kGuardBytes; }
  // Every byte, guards included.
  cudaError_t fill(uint8_t byte) const { return cudaMemset(base_, byte, total()); }
  cudaError_t upload(const void* src) const {
    return bytes_ == 0 ? cudaSuccess : cudaMemcpy(get(), src, bytes_, cudaMemcpyHostToDevice);
  }
  cudaError_t download(void* dst) const {
    return bytes_ == 0 ? cudaSuccess : cudaMemcpy(dst, get(), bytes_, cudaMemcpyDeviceToHost);
  }
  // Whether every byte outside the usable range still holds `byte`.
  cudaError_t guards_hold(uint8_t byte, bool* hold) const {
    std::vector<uint8_t> all(total());
    const cudaError_t e = cudaMemcpy(all.data(), base_, total(), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return e;
    *hold = true;
    for (size_t i = 0; i < all.size(); ++i) {
      const bool inside = i >= kGuardBytes + misalign_ && i < kGuardBytes + misalign_ + bytes_;
      if (!inside && all[i] != byte) *hold = false;
    }
    return cudaSuccess;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_;
  size_t misalign_;
};

// An input: guards poisoned, the values uploaded.
template <typename H>
void upload(const DeviceBuffer& b, const std::vector<H>& v) {
  ASSERT_TRUE(b.allocated());
  KILN_CUDA_ASSERT(b.fill(kPoison));
  KILN_CUDA_ASSERT(b.upload(v.data()));
}

// An output: every byte poisoned.
void poison(const DeviceBuffer& b, uint8_t byte = kPoison) {
  ASSERT_TRUE(b.allocated());
  KILN_CUDA_ASSERT(b.fill(byte));
}

// The output's values, after checking that nothing was written outside it.
template <typename H>
void download(const DeviceBuffer& b, std::vector<H>& v, uint8_t byte = kPoison) {
  KILN_CUDA_ASSERT(b.download(v.data()));
  bool hold = false;
  KILN_CUDA_ASSERT(b.guards_hold(byte, &hold));
  EXPECT_TRUE(hold) << "a kernel wrote outside its output";
}

// --- element types ---------------------------------------------------------------------------

template <typename H>
constexpr DataType kDtypeOf = DataType::kUndefined;
template <>
constexpr DataType kDtypeOf<float> = DataType::kFloat32;
template <>
constexpr DataType kDtypeOf<Float16> = DataType::kFloat16;
template <>
constexpr DataType kDtypeOf<BFloat16> = DataType::kBFloat16;

// The spacing of H's values just above 1: a bound on its relative rounding step.
template <typename H>
constexpr double kUlp = 0x1p-23;
template <>
constexpr double kUlp<Float16> = 0x1p-10;
template <>
constexpr double kUlp<BFloat16> = 0x1p-7;

template <typename H>
const char* type_name() {
  if constexpr (std::is_same_v<H, float>) return "float32";
  if constexpr (std::is_same_v<H, Float16>) return "float16";
  return "bfloat16";
}

template <typename H>
uint32_t bits_of(H v) {
  if constexpr (std::is_same_v<H, float>) {
    return std::bit_cast<uint32_t>(v);
  } else {
    return v.bits;
  }
}

template <typename H>
std::vector<H> random_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<H> v(n);
  for (H& e : v) e = H(dist(rng));
  return v;
}

template <typename H>
std::vector<double> as_doubles(const std::vector<H>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

// |got - want| <= atol + rtol * |want|; NaN matches NaN and an infinity only itself.
struct Tolerance {
  double rtol;
  double atol;
};

// A float32 tolerance widened, for a 16-bit H, to `ulps` rounding steps of H relative to the
// value, and (for values that come out of cancellation) `abs_ulps` steps of H at magnitude 1.
template <typename H>
Tolerance tolerance_for(Tolerance f32, double ulps = 1, double abs_ulps = 0) {
  if constexpr (std::is_same_v<H, float>) {
    return f32;
  } else {
    return {std::max(f32.rtol, ulps * kUlp<H> * 1.01), std::max(f32.atol, abs_ulps * kUlp<H>)};
  }
}

template <typename H>
::testing::AssertionResult all_close(const std::vector<H>& got, const std::vector<double>& want,
                                     Tolerance tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  size_t bad = 0;
  std::string shown;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<float>(got[i]), w = want[i];
    bool ok;
    if (std::isnan(w)) {
      ok = std::isnan(g);
    } else if (std::isinf(w)) {
      ok = g == w;
    } else {
      ok = std::abs(g - w) <= tol.atol + tol.rtol * std::abs(w);  // false for a NaN g
    }
    if (!ok && bad++ < 5)
      shown +=
          " [" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(w);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements differ:" << shown;
}

// Bit for bit, except that any NaN matches any NaN.
template <typename H>
::testing::AssertionResult same_bits(const std::vector<H>& got, const std::vector<H>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  size_t bad = 0;
  std::string shown;
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = static_cast<float>(got[i]), w = static_cast<float>(want[i]);
    const bool ok = (std::isnan(g) && std::isnan(w)) || bits_of(got[i]) == bits_of(want[i]);
    if (!ok && bad++ < 5)
      shown +=
          " [" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(w);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements differ:" << shown;
}

std::string dims_string(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

int64_t numel_of(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (int64_t v : d) n *= v;
  return n;
}

// Row-major strides of d.
std::vector<int64_t> strides_of(const std::vector<int64_t>& d) {
  std::vector<int64_t> s(d.size());
  int64_t stride = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = stride;
    stride *= d[i];
  }
  return s;
}

// The offset into a tensor of dims `operand` (numpy-broadcast to out) of out's element e.
int64_t broadcast_offset(const std::vector<int64_t>& out, const std::vector<int64_t>& operand,
                         int64_t e) {
  const std::vector<int64_t> os = strides_of(operand);
  int64_t offset = 0;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t idx = e % out[d];
    e /= out[d];
    const ptrdiff_t od =
        static_cast<ptrdiff_t>(d) - static_cast<ptrdiff_t>(out.size() - operand.size());
    if (od >= 0 && operand[od] != 1) offset += idx * os[od];
  }
  return offset;
}

// --- LayerNormalization, RMSNormalization ------------------------------------------------------

struct RowsCase {
  int64_t rows;
  int64_t cols;
};

// Every path: warp rows (aligned with 1 to 4 packs a lane: 8, 256, 384, 520, 768, 1000; and
// not aligned), block rows, rows past the register cache (> 16384 aligned, > 8192 unaligned),
// single elements, many rows.
const RowsCase kRowCases[] = {{1, 1},    {3, 7},     {4, 8},     {5, 255},   {6, 256},   {5, 384},
                              {3, 512},  {7, 513},   {4, 520},   {9, 768},   {2, 1000},  {3, 1024},
                              {2, 4099}, {2, 8192},  {2, 8193},  {1, 16384}, {2, 16385}, {2, 20000},
                              {1000, 64}, {257, 33}, {131, 768}};

template <typename H>
void check_layer_norm(cudaStream_t stream, bool rms) {
  uint32_t seed = 1;
  for (const RowsCase& c : kRowCases) {
    for (size_t misalign : {size_t{0}, sizeof(H)}) {
      const bool with_beta = !rms && (c.cols + misalign) % 2 == 0;
      const bool with_stats = !rms && misalign == 0;
      SCOPED_TRACE(std::string(type_name<H>()) + " rows " + std::to_string(c.rows) + " cols " +
                   std::to_string(c.cols) + " misalign " + std::to_string(misalign) +
                   (with_beta ? " beta" : ""));
      const size_t n = static_cast<size_t>(c.rows * c.cols), cols = static_cast<size_t>(c.cols);
      const std::vector<H> x = random_values<H>(n, -2.f, 3.f, seed++);
      const std::vector<H> gamma = random_values<H>(cols, 0.5f, 1.5f, seed++);
      const std::vector<H> beta = random_values<H>(cols, -1.f, 1.f, seed++);
      const float eps = 1e-5f;
      DeviceBuffer dx(n * sizeof(H), misalign), dy(n * sizeof(H), misalign),
          dg(cols * sizeof(H), misalign), db(cols * sizeof(H), misalign),
          dmean(c.rows * sizeof(float), 0), dinv(c.rows * sizeof(float), 0);
      upload(dx, x);
      upload(dg, gamma);
      upload(db, beta);
      poison(dy);
      poison(dmean);
      poison(dinv);
      if (rms) {
        KILN_CUDA_ASSERT(
            rms_norm(dx.get(), dg.get(), dy.get(), kDtypeOf<H>, c.rows, c.cols, eps, stream));
      } else {
        KILN_CUDA_ASSERT(layer_norm(dx.get(), dg.get(), with_beta ? db.get() : nullptr, dy.get(),
                                    with_stats ? static_cast<float*>(dmean.get()) : nullptr,
                                    with_stats ? static_cast<float*>(dinv.get()) : nullptr,
                                    kDtypeOf<H>, c.rows, c.cols, eps, stream));
      }
      KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
      std::vector<H> y(n);
      download(dy, y);
      // The reference kernels' arithmetic: statistics and the output in double.
      std::vector<double> want(n), want_mean(c.rows), want_inv(c.rows);
      for (int64_t r = 0; r < c.rows; ++r) {
        const H* row = x.data() + r * c.cols;
        double sum = 0, ss = 0;
        for (size_t i = 0; i < cols; ++i) sum += static_cast<float>(row[i]);
        const double mean = sum / c.cols;
        for (size_t i = 0; i < cols; ++i) {
          const double v = static_cast<float>(row[i]);
          ss += rms ? v * v : (v - mean) * (v - mean);
        }
        const double inv = 1.0 / std::sqrt(ss / c.cols + eps);
        want_mean[r] = mean;
        want_inv[r] = inv;
        for (size_t i = 0; i < cols; ++i) {
          const double v = static_cast<float>(row[i]), g = static_cast<float>(gamma[i]);
          const double b = with_beta ? static_cast<float>(beta[i]) : 0.0;
          want[r * c.cols + i] = rms ? v * inv * g : (v - mean) * inv * g + b;
        }
      }
      EXPECT_TRUE(all_close(y, want, tolerance_for<H>({2e-5, 2e-5})));
      if (with_stats) {
        std::vector<float> mean(c.rows), inv(c.rows);
        download(dmean, mean);
        download(dinv, inv);
        EXPECT_TRUE(all_close(mean, want_mean, {1e-5, 1e-5}));
        EXPECT_TRUE(all_close(inv, want_inv, {1e-5, 1e-5}));
      }
    }
  }
}

TEST_F(CudaKernelsTest, LayerNorm) {
  check_layer_norm<float>(stream_, false);
  check_layer_norm<Float16>(stream_, false);
  check_layer_norm<BFloat16>(stream_, false);
}

TEST_F(CudaKernelsTest, RmsNorm) {
  check_layer_norm<float>(stream_, true);
  check_layer_norm<Float16>(stream_, true);
  check_layer_norm<BFloat16>(stream_, true);
}

// --- Softmax, LogSoftmax -----------------------------------------------------------------------

template <typename H>
void check_softmax(cudaStream_t stream, bool log) {
  uint32_t seed = 100;
  for (const RowsCase& c : kRowCases) {
    for (size_t misalign : {size_t{0}, sizeof(H)}) {
      SCOPED_TRACE(std::string(type_name<H>()) + " rows " + std::to_string(c.rows) + " cols " +
                   std::to_string(c.cols) + " misalign " + std::to_string(misalign));
      const size_t n = static_cast<size_t>(c.rows * c.cols), cols = static_cast<size_t>(c.cols);
      // Row 0 is large in magnitude: without subtracting the maximum, exp would overflow.
      std::vector<H> x = random_values<H>(n, -5.f, 5.f, seed++);
      const std::vector<H> big = random_values<H>(cols, 60.f, 100.f, seed++);
      std::copy(big.begin(), big.end(), x.begin());
      DeviceBuffer dx(n * sizeof(H), misalign), dy(n * sizeof(H), misalign);
      upload(dx, x);
      poison(dy);
      if (log) {
        KILN_CUDA_ASSERT(log_softmax(dx.get(), dy.get(), kDtypeOf<H>, c.rows, c.cols, stream));
      } else {
        KILN_CUDA_ASSERT(softmax(dx.get(), dy.get(), kDtypeOf<H>, c.rows, c.cols, stream));
      }
      KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
      std::vector<H> y(n);
      download(dy, y);
      std::vector<double> want(n);
      for (int64_t r = 0; r < c.rows; ++r) {
        const H* row = x.data() + r * c.cols;
        double mx = -INFINITY, sum = 0;
        for (size_t i = 0; i < cols; ++i) mx = std::max<double>(mx, static_cast<float>(row[i]));
        for (size_t i = 0; i < cols; ++i) sum += std::exp(static_cast<float>(row[i]) - mx);
        for (size_t i = 0; i < cols; ++i) {
          const double d = static_cast<float>(row[i]) - mx;
          want[r * c.cols + i] = log ? d - std::log(sum) : std::exp(d) / sum;
        }
      }
      // Softmax values are small: an absolute floor of 1e-7 (f32), relative error otherwise.
      EXPECT_TRUE(all_close(y, want, tolerance_for<H>({1e-5, log ? 1e-5 : 1e-7})));
    }
  }
}

TEST_F(CudaKernelsTest, Softmax) {
  check_softmax<float>(stream_, false);
  check_softmax<Float16>(stream_, false);
  check_softmax<BFloat16>(stream_, false);
}

TEST_F(CudaKernelsTest, LogSoftmax) {
  check_softmax<float>(stream_, true);
  check_softmax<Float16>(stream_, true);
  check_softmax<BFloat16>(stream_, true);
}

TEST_F(CudaKernelsTest, SoftmaxNanFillsItsRowOnly) {
  for (int64_t cols : {int64_t{100}, int64_t{3000}, int64_t{20000}}) {
    SCOPED_TRACE("cols " + std::to_string(cols));
    const int64_t rows = 3;
    std::vector<float> x = random_values<float>(static_cast<size_t>(rows * cols), -1.f, 1.f, 7);
    x[static_cast<size_t>(cols + cols / 2)] = NAN;  // in row 1
    DeviceBuffer dx(x.size() * 4, 0), dy(x.size() * 4, 0);
    upload(dx, x);
    poison(dy);
    KILN_CUDA_ASSERT(softmax(dx.get(), dy.get(), DataType::kFloat32, rows, cols, stream_));
    KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
    std::vector<float> y(x.size());
    download(dy, y);
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      int64_t nans = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const float v = y[static_cast<size_t>(r * cols + i)];
        nans += std::isnan(v) ? 1 : 0;
        sum += v;
      }
      EXPECT_EQ(nans, r == 1 ? cols : 0) << "row " << r;
      if (r != 1) {
        EXPECT_NEAR(sum, 1.0, 1e-4) << "row " << r;
      }
    }
  }
}

// --- unary
// ----------------------------------------------------------------------------------------

struct UnaryCase {
  UnaryKind kind;
  Activation activation;  // the core/activation.h formula, kNone for the math ops
  float alpha, beta;
  bool exact;  // the reference computes it exactly: compare bit for bit
};

const UnaryCase kUnaryCases[] = {
    {UnaryKind::kIdentity, Activation::kNone, 0, 0, true},
    {UnaryKind::kRelu, Activation::kRelu, 0, 0, true},
    {UnaryKind::kLeakyRelu, Activation::kLeakyRelu, 0.1f, 0, true},
    {UnaryKind::kClip, Activation::kClip, -1.5f, 2.25f, true},
    {UnaryKind::kSigmoid, Activation::kSigmoid, 0, 0, false},
    {UnaryKind::kTanh, Activation::kTanh, 0, 0, false},
    {UnaryKind::kHardSigmoid, Activation::kHardSigmoid, 0.2f, 0.5f, true},
    {UnaryKind::kHardSwish, Activation::kHardSwish, 0, 0, true},
    {UnaryKind::kSilu, Activation::kSilu, 0, 0, false},
    {UnaryKind::kGelu, Activation::kGelu, 0, 0, false},
    {UnaryKind::kGeluTanh, Activation::kGeluTanh, 0, 0, false},
    {UnaryKind::kExp, Activation::kNone, 0, 0, false},
    {UnaryKind::kLog, Activation::kNone, 0, 0, false},
    {UnaryKind::kSqrt, Activation::kNone, 0, 0, true},
    {UnaryKind::kNeg, Activation::kNone, 0, 0, true},
    {UnaryKind::kAbs, Activation::kNone, 0, 0, true},
    {UnaryKind::kErf, Activation::kNone, 0, 0, false},
    {UnaryKind::kReciprocal, Activation::kNone, 0, 0, true},
    {UnaryKind::kFloor, Activation::kNone, 0, 0, true},
    {UnaryKind::kCeil, Activation::kNone, 0, 0, true},
    {UnaryKind::kSoftplus, Activation::kNone, 0, 0, false},
};

// What the reference kernel computes for element type H (float arithmetic, rounded to H): the
// activations through core/activation.h itself, the math ops as unary_math.cpp and
// activations.cpp write them.
template <typename H>
H unary_reference(const UnaryCase& c, H x) {
  const float v = static_cast<float>(x);
  if (c.activation != Activation::kNone)
    return H(apply_activation_as<H>(c.activation, v, c.alpha, c.beta));
  switch (c.kind) {
    case UnaryKind::kIdentity:
      return x;
    case UnaryKind::kExp:
      return H(std::exp(v));
    case UnaryKind::kLog:
      return H(std::log(v));
    case UnaryKind::kSqrt:
      return H(std::sqrt(v));
    case UnaryKind::kNeg:
      return H(-v);
    case UnaryKind::kAbs:
      return H(std::abs(v));
    case UnaryKind::kErf:
      return H(std::erf(v));
    case UnaryKind::kReciprocal:
      return H(1.f / v);
    case UnaryKind::kFloor:
      return H(std::floor(v));
    case UnaryKind::kCeil:
      return H(std::ceil(v));
    case UnaryKind::kSoftplus:
      return H(v > 0.f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)));
    default:
      ADD_FAILURE() << "no reference for unary kind " << static_cast<int>(c.kind);
      return x;
  }
}

// Inputs: the special values first, then random values in [-5, 5].
template <typename H>
std::vector<H> unary_inputs(size_t n, uint32_t seed) {
  std::vector<H> v = random_values<H>(n, -5.f, 5.f, seed);
  const float specials[] = {0.f,     -0.f,  INFINITY, -INFINITY, NAN,   1e-30f,
                            -1e-30f, 1e30f, -1e30f,   0.5f,      -0.5f, 3.f};
  for (size_t i = 0; i < n && i < std::size(specials); ++i) v[i] = H(specials[i]);
  return v;
}

template <typename H>
void check_unary(cudaStream_t stream) {
  uint32_t seed = 200;
  for (const UnaryCase& c : kUnaryCases) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{4099}, size_t{100003}}) {
      for (size_t misalign : {size_t{0}, sizeof(H)}) {
        SCOPED_TRACE(std::string(type_name<H>()) + " unary kind " +
                     std::to_string(static_cast<int>(c.kind)) + " n " + std::to_string(n) +
                     " misalign " + std::to_string(misalign));
        const std::vector<H> x = unary_inputs<H>(n, seed++);
        DeviceBuffer dx(n * sizeof(H), misalign), dy(n * sizeof(H), misalign);
        upload(dx, x);
        poison(dy);
        const UnaryOp op{c.kind, c.alpha, c.beta};
        KILN_CUDA_ASSERT(
            unary(op, dx.get(), dy.get(), kDtypeOf<H>, static_cast<int64_t>(n), stream));
        KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
        std::vector<H> y(n), want(n);
        download(dy, y);
        for (size_t i = 0; i < n; ++i) want[i] = unary_reference(c, x[i]);
        if (c.exact) {
          EXPECT_TRUE(same_bits(y, want));
        } else {
          // CUDA's exp/log/tanh/erf against the C library's: a few float ulps, which can move a
          // 16-bit result by one step (two for Silu, which rounds its sigmoid first).
          EXPECT_TRUE(all_close(y, as_doubles(want), tolerance_for<H>({1e-5, 1e-5}, 3)));
        }
      }
    }
  }
}

TEST_F(CudaKernelsTest, Unary) {
  check_unary<float>(stream_);
  check_unary<Float16>(stream_);
  check_unary<BFloat16>(stream_);
}

TEST_F(CudaKernelsTest, UnaryInPlace) {
  const size_t n = 1000;
  std::vector<float> x = random_values<float>(n, -3.f, 3.f, 5);
  DeviceBuffer d(n * 4, 0);
  upload(d, x);
  KILN_CUDA_ASSERT(
      unary(UnaryOp{UnaryKind::kNeg, 0, 0}, d.get(), d.get(), DataType::kFloat32, n, stream_));
  KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
  std::vector<float> y(n), want(n);
  download(d, y);
  for (size_t i = 0; i < n; ++i) want[i] = -x[i];
  EXPECT_TRUE(same_bits(y, want));
}

// --- binary
// ---------------------------------------------------------------------------------------

// op(a, b) as the reference computes it in float (Pow in double), rounded to H.
template <typename H>
H binary_reference(BinaryOp op, H ha, H hb) {
  const float a = static_cast<float>(ha), b = static_cast<float>(hb);
  switch (op) {
    case BinaryOp::kAdd:
      return H(a + b);
    case BinaryOp::kSub:
      return H(a - b);
    case BinaryOp::kMul:
      return H(a * b);
    case BinaryOp::kDiv:
      return H(a / b);
    case BinaryOp::kMax:
      return (b > a || std::isnan(b)) ? hb : ha;
    case BinaryOp::kMin:
      return (b < a || std::isnan(b)) ? hb : ha;
    case BinaryOp::kPow:
      return H(static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b))));
  }
  return ha;
}

struct BroadcastCase {
  std::vector<int64_t> a, b;
};

const BroadcastCase kBroadcastCases[] = {
    {{7, 13}, {7, 13}},
    {{4099}, {4099}},
    {{64, 64}, {64, 64}},
    {{5, 7}, {}},
    {{}, {1001}},
    {{}, {}},
    {{33, 64}, {64}},
    {{33, 65}, {65}},
    {{2, 16, 5, 5}, {16, 1, 1}},
    {{3, 1, 5}, {1, 4, 1}},
    {{1, 8}, {8, 1}},
    {{16, 1}, {1, 24}},
    {{2, 1, 3, 1, 2, 2, 1, 3}, {1, 2, 1, 2, 1, 2, 2, 1}},
};

template <typename H>
void check_binary(cudaStream_t stream) {
  uint32_t seed = 300;
  const BinaryOp ops[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv,
                          BinaryOp::kMax, BinaryOp::kMin, BinaryOp::kPow};
  for (BinaryOp op : ops) {
    for (const BroadcastCase& c : kBroadcastCases) {
      for (size_t misalign : {size_t{0}, sizeof(H)}) {
        SCOPED_TRACE(std::string(type_name<H>()) + " op " + std::to_string(static_cast<int>(op)) +
                     " a " + dims_string(c.a) + " b " + dims_string(c.b) + " misalign " +
                     std::to_string(misalign));
        int64_t out_dims[kMaxRank];
        int out_rank = 0;
        ASSERT_TRUE(broadcast_shape(c.a.data(), static_cast<int>(c.a.size()), c.b.data(),
                                    static_cast<int>(c.b.size()), out_dims, &out_rank));
        const std::vector<int64_t> out(out_dims, out_dims + out_rank);
        const size_t na = static_cast<size_t>(numel_of(c.a)),
                     nb = static_cast<size_t>(numel_of(c.b)),
                     ny = static_cast<size_t>(numel_of(out));
        std::vector<H> a = random_values<H>(na, -4.f, 4.f, seed++),
                       b = random_values<H>(nb, -4.f, 4.f, seed++);
        if (op == BinaryOp::kPow) {
          for (H& v : a) v = H(std::abs(static_cast<float>(v)) + 0.25f);  // a positive base
          if (na > 2) a[1] = H(-2.f);  // with an integral exponent
          if (nb > 1) b[1] = H(3.f);
        } else if (na > 3 && nb > 3) {
          a[2] = H(NAN);  // NaN wins Max and Min from either side
          b[3] = H(NAN);
        }
        DeviceBuffer da(na * sizeof(H), misalign), db(nb * sizeof(H), misalign),
            dy(ny * sizeof(H), misalign);
        upload(da, a);
        upload(db, b);
        poison(dy);
        KILN_CUDA_ASSERT(binary(op, da.get(), c.a.data(), static_cast<int>(c.a.size()), db.get(),
                                c.b.data(), static_cast<int>(c.b.size()), dy.get(), kDtypeOf<H>,
                                stream));
        KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
        std::vector<H> y(ny), want(ny);
        download(dy, y);
        for (size_t e = 0; e < ny; ++e) {
          want[e] = binary_reference(op, a[broadcast_offset(out, c.a, e)],
                                     b[broadcast_offset(out, c.b, e)]);
        }
        if (op == BinaryOp::kPow) {
          // Double pow on the device against the C library's: the same after rounding to
          // float but for the rarest ties.
          EXPECT_TRUE(all_close(y, as_doubles(want), tolerance_for<H>({0x1p-23, 0})));
        } else {
          EXPECT_TRUE(same_bits(y, want));
        }
      }
    }
  }
}

TEST_F(CudaKernelsTest, BinaryBroadcast) {
  check_binary<float>(stream_);
  check_binary<Float16>(stream_);
  check_binary<BFloat16>(stream_);
}

// --- Cast
// -----------------------------------------------------------------------------------------

template <typename From, typename To>
void check_cast(cudaStream_t stream) {
  uint32_t seed = 400;
  for (size_t n : {size_t{1}, size_t{9}, size_t{4099}, size_t{65539}}) {
    for (size_t misalign : {size_t{0}, sizeof(From)}) {
      SCOPED_TRACE(std::string(type_name<From>()) + " -> " + type_name<To>() + " n " +
                   std::to_string(n) + " misalign " + std::to_string(misalign));
      // Wide magnitudes: float16 overflows and subnormals, bfloat16's rounding, specials.
      std::vector<From> x(n);
      std::mt19937 rng(seed++);
      std::uniform_real_distribution<float> mant(-2.f, 2.f);
      std::uniform_int_distribution<int> expo(-30, 20);
      for (From& v : x) v = From(std::ldexp(mant(rng), expo(rng)));
      const float specials[] = {0.f,     -0.f,    INFINITY, -INFINITY, NAN,
                                65504.f, 65520.f, 1e-8f,    3e38f,     -1.00048828125f};
      for (size_t i = 0; i < n && i < std::size(specials); ++i) x[i] = From(specials[i]);
      // Misaligned by one element of each type: CUDA needs every pointer aligned to its element.
      DeviceBuffer dx(n * sizeof(From), misalign), dy(n * sizeof(To), misalign ? sizeof(To) : 0);
      upload(dx, x);
      poison(dy);
      KILN_CUDA_ASSERT(
          cast(dx.get(), kDtypeOf<From>, dy.get(), kDtypeOf<To>, static_cast<int64_t>(n), stream));
      KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
      std::vector<To> y(n), want(n);
      download(dy, y);
      for (size_t i = 0; i < n; ++i) want[i] = To(static_cast<float>(x[i]));
      EXPECT_TRUE(same_bits(y, want));
    }
  }
}

TEST_F(CudaKernelsTest, Cast) {
  check_cast<float, Float16>(stream_);
  check_cast<float, BFloat16>(stream_);
  check_cast<Float16, float>(stream_);
  check_cast<BFloat16, float>(stream_);
  check_cast<Float16, BFloat16>(stream_);
  check_cast<BFloat16, Float16>(stream_);
  check_cast<float, float>(stream_);
  check_cast<Float16, Float16>(stream_);
}

// --- FusedPointwise
// -------------------------------------------------------------------------------

PointwiseStep unary_step(PointwiseKind kind) {
  PointwiseStep s;
  s.kind = kind;
  return s;
}

PointwiseStep activation_step(Activation a, float alpha = 0, float beta = 0) {
  PointwiseStep s;
  s.kind = PointwiseKind::kActivation;
  s.activation = a;
  s.alpha = alpha;
  s.beta = beta;
  return s;
}

PointwiseStep binary_step(PointwiseKind kind, size_t operand, bool swapped = false) {
  PointwiseStep s;
  s.kind = kind;
  s.operand = operand;
  s.swapped = swapped;
  return s;
}

// One step as the reference kernel (reference/kernels/fused/fused_pointwise.cpp) computes it.
template <typename H>
float step_reference(const PointwiseStep& s, float v, float e) {
  switch (s.kind) {
    case PointwiseKind::kActivation:
      return apply_activation_as<H>(s.activation, v, s.alpha, s.beta);
    case PointwiseKind::kExp:
      return std::exp(v);
    case PointwiseKind::kLog:
      return std::log(v);
    case PointwiseKind::kSqrt:
      return std::sqrt(v);
    case PointwiseKind::kNeg:
      return -v;
    case PointwiseKind::kAbs:
      return std::abs(v);
    case PointwiseKind::kErf:
      return std::erf(v);
    case PointwiseKind::kReciprocal:
      return 1.f / v;
    case PointwiseKind::kFloor:
      return std::floor(v);
    case PointwiseKind::kCeil:
      return std::ceil(v);
    default:
      break;
  }
  float a = v, b = e;
  if (s.swapped) std::swap(a, b);
  switch (s.kind) {
    case PointwiseKind::kAdd:
      return a + b;
    case PointwiseKind::kSub:
      return a - b;
    case PointwiseKind::kMul:
      return a * b;
    case PointwiseKind::kDiv:
      return a / b;
    case PointwiseKind::kPow:
      return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case PointwiseKind::kMax:
      return (b > a || std::isnan(b)) ? b : a;
    case PointwiseKind::kMin:
      return (b < a || std::isnan(b)) ? b : a;
    default:
      return v;
  }
}

struct FusedCase {
  std::vector<int64_t> x;
  std::vector<std::vector<int64_t>> operands;  // E1..En
};

// Operand i of each case feeds the program's E{i+1}; five per case.
const FusedCase kFusedCases[] = {
    {{2, 3, 4, 5}, {{3, 1, 1}, {2, 3, 4, 5}, {}, {5}, {2, 1, 4, 1}}},
    {{4099}, {{4099}, {4099}, {}, {1}, {4099}}},
    {{8, 64}, {{64}, {8, 64}, {}, {8, 1}, {1, 64}}},
    {{2, 3, 2, 3, 2, 3, 2, 5},
     {{3, 1, 3, 1, 3, 1, 5}, {2, 3, 2, 3, 2, 3, 2, 5}, {1}, {5}, {2, 1, 2, 1, 2, 1, 2, 1}}},
    {{1}, {{1}, {}, {}, {1}, {1}}},
};

// E1 multiplies, E2 adds (full shape), E3 is a scalar, E4 and E5 feed Max/Min or Pow.
std::vector<PointwiseStep> exact_program() {
  return {binary_step(PointwiseKind::kMul, 1),
          binary_step(PointwiseKind::kAdd, 2, true),
          activation_step(Activation::kRelu),
          binary_step(PointwiseKind::kSub, 3, true),
          binary_step(PointwiseKind::kMax, 4),
          binary_step(PointwiseKind::kMin, 5, true),
          activation_step(Activation::kHardSwish),
          activation_step(Activation::kLeakyRelu, 0.1f),
          activation_step(Activation::kClip, -1.f, 2.f),
          binary_step(PointwiseKind::kDiv, 2),
          unary_step(PointwiseKind::kNeg),
          unary_step(PointwiseKind::kAbs),
          unary_step(PointwiseKind::kSqrt),
          unary_step(PointwiseKind::kReciprocal),
          activation_step(Activation::kHardSigmoid, 0.2f, 0.5f),
          binary_step(PointwiseKind::kMul, 1),
          unary_step(PointwiseKind::kFloor),
          binary_step(PointwiseKind::kAdd, 1),
          unary_step(PointwiseKind::kCeil)};
}

std::vector<PointwiseStep> transcendental_program() {
  return {activation_step(Activation::kSigmoid),
          binary_step(PointwiseKind::kPow, 4),  // E4 in [0.5, 2] on (0, 1)
          binary_step(PointwiseKind::kMul, 1),
          activation_step(Activation::kTanh),
          binary_step(PointwiseKind::kAdd, 2),
          unary_step(PointwiseKind::kExp),
          unary_step(PointwiseKind::kLog),
          activation_step(Activation::kGeluTanh),
          activation_step(Activation::kGelu),
          activation_step(Activation::kSilu),
          unary_step(PointwiseKind::kErf),
          binary_step(PointwiseKind::kSub, 3, true)};
}

template <typename H>
void check_fused(cudaStream_t stream, const std::vector<PointwiseStep>& steps, bool exact,
                 bool in_place) {
  FusedPointwiseProgram program;
  ASSERT_TRUE(decode_fused_pointwise(steps, &program));
  uint32_t seed = 500;
  for (const FusedCase& c : kFusedCases) {
    for (size_t misalign : {size_t{0}, sizeof(H)}) {
      SCOPED_TRACE(std::string(type_name<H>()) + " x " + dims_string(c.x) + " misalign " +
                   std::to_string(misalign) + (exact ? " exact" : " transcendental") +
                   (in_place ? " in place" : ""));
      const size_t n = static_cast<size_t>(numel_of(c.x));
      const std::vector<H> x = random_values<H>(n, -3.f, 3.f, seed++);
      std::vector<std::vector<H>> e;
      std::vector<std::unique_ptr<DeviceBuffer>> de;
      std::vector<const void*> ptrs;
      std::vector<const int64_t*> dims;
      std::vector<int> ranks;
      for (size_t k = 0; k < c.operands.size(); ++k) {
        const size_t m = static_cast<size_t>(numel_of(c.operands[k]));
        // E4 is Pow's exponent in the transcendental program; E2 divides in the exact one.
        const float lo = k == 3 ? 0.5f : (k == 1 ? 0.5f : -2.f), hi = k == 3 ? 2.f : 2.f;
        e.push_back(random_values<H>(m, lo, hi, seed++));
        de.push_back(std::make_unique<DeviceBuffer>(m * sizeof(H), misalign));
        upload(*de.back(), e.back());
        ptrs.push_back(de.back()->get());
        dims.push_back(c.operands[k].data());
        ranks.push_back(static_cast<int>(c.operands[k].size()));
      }
      DeviceBuffer dx(n * sizeof(H), misalign), dy(n * sizeof(H), misalign);
      upload(dx, x);
      poison(dy);
      void* out = in_place ? dx.get() : dy.get();
      KILN_CUDA_ASSERT(fused_pointwise(program, dx.get(), c.x.data(), static_cast<int>(c.x.size()),
                                       ptrs.data(), dims.data(), ranks.data(),
                                       static_cast<int>(ptrs.size()), out, kDtypeOf<H>, stream));
      KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
      std::vector<H> y(n), want(n);
      download(in_place ? dx : dy, y);
      for (size_t i = 0; i < n; ++i) {
        H v = x[i];
        for (const PointwiseStep& s : steps) {
          float ev = 0;
          if (s.binary())
            ev = static_cast<float>(
                e[s.operand - 1][broadcast_offset(c.x, c.operands[s.operand - 1], i)]);
          v = H(step_reference<H>(s, static_cast<float>(v), ev));
        }
        want[i] = v;
      }
      if (exact) {
        EXPECT_TRUE(same_bits(y, want));
      } else {
        // Each transcendental step may differ from the C library by a few float ulps, and a
        // 16-bit running value by a rounding step, which later steps carry along (values stay
        // near 1, and the last step subtracts, so the bound is absolute too).
        EXPECT_TRUE(all_close(y, as_doubles(want), tolerance_for<H>({2e-5, 2e-5}, 16, 16)));
      }
    }
  }
}

TEST_F(CudaKernelsTest, FusedPointwiseExact) {
  check_fused<float>(stream_, exact_program(), true, false);
  check_fused<Float16>(stream_, exact_program(), true, false);
  check_fused<BFloat16>(stream_, exact_program(), true, false);
  check_fused<float>(stream_, exact_program(), true, true);
}

TEST_F(CudaKernelsTest, FusedPointwiseTranscendental) {
  check_fused<float>(stream_, transcendental_program(), false, false);
  check_fused<Float16>(stream_, transcendental_program(), false, false);
  check_fused<BFloat16>(stream_, transcendental_program(), false, false);
}

// --- reductions
// -----------------------------------------------------------------------------------

struct ReduceCase {
  int64_t outer, reduced, inner;  // inner 0: the rows layout
};

const ReduceCase kReduceCases[] = {
    {1, 1, 0},      {3, 7, 0},     {5, 1000, 0}, {2, 1024, 0},  {2, 5000, 0},
    {3, 100003, 0}, {1000, 3, 0},  {64, 256, 0}, {2, 7, 3},     {3, 1000, 33},
    {1, 5, 1000},   {4, 3000, 64}, {5, 9, 1},    {2, 49, 2048}, {1, 20000, 2},
};

template <typename H>
void check_reduce(cudaStream_t stream) {
  uint32_t seed = 600;
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax}) {
    for (const ReduceCase& c : kReduceCases) {
      for (size_t misalign : {size_t{0}, sizeof(H)}) {
        const bool rows = c.inner == 0;
        const int64_t inner = rows ? 1 : c.inner;
        SCOPED_TRACE(std::string(type_name<H>()) + " op " + std::to_string(static_cast<int>(op)) +
                     " outer " + std::to_string(c.outer) + " reduced " + std::to_string(c.reduced) +
                     " inner " + std::to_string(c.inner) + " misalign " + std::to_string(misalign));
        const size_t n = static_cast<size_t>(c.outer * c.reduced * inner),
                     m = static_cast<size_t>(c.outer * inner);
        const std::vector<H> x = random_values<H>(n, -1.f, 2.f, seed++);
        DeviceBuffer dx(n * sizeof(H), misalign), dy(m * sizeof(H), misalign);
        upload(dx, x);
        poison(dy);
        if (rows) {
          KILN_CUDA_ASSERT(
              reduce_rows(dx.get(), dy.get(), kDtypeOf<H>, op, c.outer, c.reduced, stream));
        } else {
          KILN_CUDA_ASSERT(reduce_middle(dx.get(), dy.get(), kDtypeOf<H>, op, c.outer, c.reduced,
                                         c.inner, stream));
        }
        KILN_CUDA_ASSERT(cudaStreamSynchronize(stream));
        std::vector<H> y(m);
        download(dy, y);
        std::vector<double> want(m);
        double worst_abs_sum = 0;  // the fp32 accumulation's error scales with the sum of |x|
        for (int64_t o = 0; o < c.outer; ++o) {
          for (int64_t i = 0; i < inner; ++i) {
            double acc = op == ReduceOp::kMax ? -INFINITY : 0.0, abs_sum = 0;
            for (int64_t r = 0; r < c.reduced; ++r) {
              const double v =
                  static_cast<float>(x[static_cast<size_t>((o * c.reduced + r) * inner + i)]);
              acc = op == ReduceOp::kMax ? std::max(acc, v) : acc + v;
              abs_sum += std::abs(v);
            }
            if (op == ReduceOp::kMean) {
              acc /= static_cast<double>(c.reduced);
              abs_sum /= static_cast<double>(c.reduced);
            }
            worst_abs_sum = std::max(worst_abs_sum, abs_sum);
            want[static_cast<size_t>(o * inner + i)] = acc;
          }
        }
        if (op == ReduceOp::kMax) {
          std::vector<H> want_h(m);
          for (size_t j = 0; j < m; ++j) want_h[j] = H(static_cast<float>(want[j]));
          EXPECT_TRUE(same_bits(y, want_h));
        } else {
          EXPECT_TRUE(all_close(y, want, tolerance_for<H>({1e-6, 2e-5 * worst_abs_sum + 1e-6})));
        }
      }
    }
  }
}

TEST_F(CudaKernelsTest, Reduce) {
  check_reduce<float>(stream_);
  check_reduce<Float16>(stream_);
  check_reduce<BFloat16>(stream_);
}

TEST_F(CudaKernelsTest, ReduceEdgeCases) {
  // An empty reduction gives the identity; NaN wins Max.
  for (bool rows : {true, false}) {
    SCOPED_TRACE(rows ? "rows" : "middle");
    const int64_t outer = 3, inner = rows ? 1 : 5;
    DeviceBuffer dy(outer * inner * 4, 0);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax}) {
      poison(dy);
      KILN_CUDA_ASSERT(
          rows
              ? reduce_rows(nullptr, dy.get(), DataType::kFloat32, op, outer, 0, stream_)
              : reduce_middle(nullptr, dy.get(), DataType::kFloat32, op, outer, 0, inner, stream_));
      KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
      std::vector<float> y(static_cast<size_t>(outer * inner));
      download(dy, y);
      const double identity =
          op == ReduceOp::kSum ? 0.0 : (op == ReduceOp::kMean ? NAN : -INFINITY);
      EXPECT_TRUE(all_close(y, std::vector<double>(y.size(), identity), {0, 0}))
          << static_cast<int>(op);
    }
    const int64_t reduced = 3000;
    std::vector<float> x =
        random_values<float>(static_cast<size_t>(outer * reduced * inner), -1.f, 1.f, 9);
    x[static_cast<size_t>((1 * reduced + 1234) * inner)] = NAN;  // outer 1, column 0
    DeviceBuffer dx(x.size() * 4, 0);
    upload(dx, x);
    poison(dy);
    KILN_CUDA_ASSERT(rows ? reduce_rows(dx.get(), dy.get(), DataType::kFloat32, ReduceOp::kMax,
                                        outer, reduced, stream_)
                          : reduce_middle(dx.get(), dy.get(), DataType::kFloat32, ReduceOp::kMax,
                                          outer, reduced, inner, stream_));
    KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
    std::vector<float> y(static_cast<size_t>(outer * inner));
    download(dy, y);
    for (int64_t j = 0; j < outer * inner; ++j)
      EXPECT_EQ(std::isnan(y[static_cast<size_t>(j)]), j == inner) << j;
  }
}

// --- copies
// ---------------------------------------------------------------------------------------

// Raw elements of each size the copies move, with a dtype of that size.
struct CopyType {
  DataType dtype;
  size_t bytes;
};
const CopyType kCopyTypes[] = {
    {DataType::kUInt8, 1}, {DataType::kFloat16, 2}, {DataType::kFloat32, 4}, {DataType::kInt64, 8}};

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Poison bytes for the copies: any byte value is valid data, so each case runs under two.
constexpr uint8_t kCopyPoisons[] = {0xa5, 0x5a};

struct TransposeCase {
  std::vector<int64_t> dims, perm;
};

const TransposeCase kTransposeCases[] = {
    {{33, 65}, {1, 0}},
    {{130, 70}, {1, 0}},
    {{5, 33, 17}, {0, 2, 1}},
    {{5, 33, 17}, {1, 0, 2}},
    {{5, 33, 17}, {1, 2, 0}},
    {{5, 33, 17}, {2, 0, 1}},
    {{5, 33, 17}, {2, 1, 0}},
    {{5, 33, 17}, {0, 1, 2}},
    {{2, 3, 17, 19}, {0, 2, 3, 1}},
    {{2, 17, 19, 3}, {0, 3, 1, 2}},
    {{1, 64, 1, 96}, {3, 1, 0, 2}},
    {{4, 8, 16}, {1, 0, 2}},
    {{6, 5, 4, 8}, {2, 0, 1, 3}},
    {{2, 3, 2, 3, 2, 3, 2, 3}, {7, 2, 5, 0, 3, 6, 1, 4}},
    {{2, 3, 2, 3, 2, 3, 2, 3}, {1, 0, 3, 2, 5, 4, 6, 7}},
    {{1, 1, 1}, {2, 0, 1}},
    // The narrow kernel ([n][b][a] -> [n][a][b] with b <= 16): an image's NCHW -> NHWC and edges.
    {{7, 1000}, {1, 0}},
    {{3, 5, 1001}, {0, 2, 1}},
    {{2, 16, 9, 9}, {0, 2, 3, 1}},
    {{2, 17, 9, 9}, {0, 2, 3, 1}},
    {{4, 3, 224, 224}, {0, 2, 3, 1}},
};

TEST_F(CudaKernelsTest, Transpose) {
  uint32_t seed = 700;
  for (const CopyType& t : kCopyTypes) {
    for (const TransposeCase& c : kTransposeCases) {
      for (size_t misalign : {size_t{0}, t.bytes}) {
        for (uint8_t poison_byte : kCopyPoisons) {
          SCOPED_TRACE("element bytes " + std::to_string(t.bytes) + " dims " + dims_string(c.dims) +
                       " perm " + dims_string(c.perm) + " misalign " + std::to_string(misalign));
          const size_t n = static_cast<size_t>(numel_of(c.dims));
          const std::vector<uint8_t> x = random_bytes(n * t.bytes, seed++);
          DeviceBuffer dx(x.size(), misalign), dy(x.size(), misalign);
          upload(dx, x);
          poison(dy, poison_byte);
          KILN_CUDA_ASSERT(transpose(dx.get(), dy.get(), t.dtype, c.dims.data(), c.perm.data(),
                                     static_cast<int>(c.dims.size()), stream_));
          KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
          std::vector<uint8_t> y(x.size()), want(x.size());
          download(dy, y, poison_byte);
          std::vector<int64_t> ydims(c.dims.size());
          for (size_t j = 0; j < c.dims.size(); ++j)
            ydims[j] = c.dims[static_cast<size_t>(c.perm[j])];
          const std::vector<int64_t> xs = strides_of(c.dims);
          for (size_t e = 0; e < n; ++e) {
            int64_t rem = static_cast<int64_t>(e), offset = 0;
            for (size_t j = ydims.size(); j-- > 0;) {
              offset += (rem % ydims[j]) * xs[static_cast<size_t>(c.perm[j])];
              rem /= ydims[j];
            }
            std::memcpy(&want[e * t.bytes], &x[static_cast<size_t>(offset) * t.bytes], t.bytes);
          }
          EXPECT_TRUE(want == y);
        }
      }
    }
  }
}

struct ConcatCase {
  int64_t outer, inner;
  std::vector<int64_t> lens;
};

const ConcatCase kConcatCases[] = {
    {7, 3, {1, 5, 2}},
    {1, 1, {1000, 3, 4099}},
    {64, 8, {4, 4}},
    {3, 5, {2, 0, 1, 3, 1, 2, 3, 1, 1, 2, 3, 1, 0, 2, 1, 3, 2, 1, 1, 2}},  // two launches
    {5, 1, {1}},
};

TEST_F(CudaKernelsTest, ConcatAndSplit) {
  uint32_t seed = 800;
  for (const CopyType& t : kCopyTypes) {
    for (const ConcatCase& c : kConcatCases) {
      for (size_t misalign : {size_t{0}, t.bytes}) {
        for (uint8_t poison_byte : kCopyPoisons) {
          SCOPED_TRACE("element bytes " + std::to_string(t.bytes) + " outer " +
                       std::to_string(c.outer) + " inner " + std::to_string(c.inner) + " lens " +
                       dims_string(c.lens) + " misalign " + std::to_string(misalign));
          int64_t total = 0;
          for (int64_t l : c.lens) total += l;
          std::vector<std::vector<uint8_t>> parts;
          std::vector<std::unique_ptr<DeviceBuffer>> dparts, dsplit;
          std::vector<const void*> in_ptrs;
          std::vector<void*> out_ptrs;
          for (int64_t l : c.lens) {
            const size_t bytes = static_cast<size_t>(c.outer * l * c.inner) * t.bytes;
            parts.push_back(random_bytes(bytes, seed++));
            dparts.push_back(std::make_unique<DeviceBuffer>(bytes, misalign));
            upload(*dparts.back(), parts.back());
            in_ptrs.push_back(dparts.back()->get());
            dsplit.push_back(std::make_unique<DeviceBuffer>(bytes, misalign));
            poison(*dsplit.back(), poison_byte);
            out_ptrs.push_back(dsplit.back()->get());
          }
          const size_t ybytes = static_cast<size_t>(c.outer * total * c.inner) * t.bytes;
          DeviceBuffer dy(ybytes, misalign);
          poison(dy, poison_byte);
          KILN_CUDA_ASSERT(concat(in_ptrs.data(), c.lens.data(), static_cast<int>(c.lens.size()),
                                  dy.get(), t.dtype, c.outer, c.inner, stream_));
          KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
          std::vector<uint8_t> y(ybytes), want;
          download(dy, y, poison_byte);
          for (int64_t o = 0; o < c.outer; ++o) {
            for (size_t k = 0; k < parts.size(); ++k) {
              const size_t row = static_cast<size_t>(c.lens[k] * c.inner) * t.bytes;
              want.insert(want.end(), parts[k].begin() + static_cast<ptrdiff_t>(o * row),
                          parts[k].begin() + static_cast<ptrdiff_t>((o + 1) * row));
            }
          }
          EXPECT_TRUE(want == y) << "concat";
          // Split of the concatenation gives the parts back.
          KILN_CUDA_ASSERT(split(dy.get(), out_ptrs.data(), c.lens.data(),
                                 static_cast<int>(c.lens.size()), t.dtype, c.outer, c.inner,
                                 stream_));
          KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
          for (size_t k = 0; k < parts.size(); ++k) {
            std::vector<uint8_t> got(parts[k].size());
            download(*dsplit[k], got, poison_byte);
            EXPECT_TRUE(got == parts[k]) << "split part " << k;
          }
        }
      }
    }
  }
}

struct SliceCase {
  std::vector<int64_t> x, starts, steps, y;
};

const SliceCase kSliceCases[] = {
    {{5, 9, 13}, {1, 8, 0}, {2, -3, 1}, {2, 3, 13}},
    {{4099}, {4098}, {-1}, {4099}},
    {{6, 64}, {0, 8}, {1, 1}, {6, 32}},
    {{3, 4, 5, 6, 7}, {0, 1, 4, 0, 1}, {2, 2, -2, 1, 3}, {2, 2, 3, 6, 2}},
    {{2, 1, 3}, {1, 0, 2}, {1, 1, -1}, {1, 1, 3}},
    {{8, 128}, {1, 0}, {2, 1}, {4, 128}},
};

TEST_F(CudaKernelsTest, Slice) {
  uint32_t seed = 900;
  for (const CopyType& t : kCopyTypes) {
    for (const SliceCase& c : kSliceCases) {
      for (size_t misalign : {size_t{0}, t.bytes}) {
        for (uint8_t poison_byte : kCopyPoisons) {
          SCOPED_TRACE("element bytes " + std::to_string(t.bytes) + " x " + dims_string(c.x) +
                       " starts " + dims_string(c.starts) + " steps " + dims_string(c.steps) +
                       " misalign " + std::to_string(misalign));
          const size_t nx = static_cast<size_t>(numel_of(c.x)),
                       ny = static_cast<size_t>(numel_of(c.y));
          const std::vector<uint8_t> x = random_bytes(nx * t.bytes, seed++);
          DeviceBuffer dx(x.size(), misalign), dy(ny * t.bytes, misalign);
          upload(dx, x);
          poison(dy, poison_byte);
          KILN_CUDA_ASSERT(slice(dx.get(), c.x.data(), static_cast<int>(c.x.size()),
                                 c.starts.data(), c.steps.data(), dy.get(), c.y.data(), t.dtype,
                                 stream_));
          KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
          std::vector<uint8_t> y(ny * t.bytes), want(ny * t.bytes);
          download(dy, y, poison_byte);
          const std::vector<int64_t> xs = strides_of(c.x);
          for (size_t e = 0; e < ny; ++e) {
            int64_t rem = static_cast<int64_t>(e), offset = 0;
            for (size_t d = c.y.size(); d-- > 0;) {
              offset += (c.starts[d] + (rem % c.y[d]) * c.steps[d]) * xs[d];
              rem /= c.y[d];
            }
            std::memcpy(&want[e * t.bytes], &x[static_cast<size_t>(offset) * t.bytes], t.bytes);
          }
          EXPECT_TRUE(want == y);
        }
      }
    }
  }
}

struct GatherCase {
  int64_t outer, axis_len, inner;
  std::vector<int64_t> indices;
};

const GatherCase kGatherCases[] = {
    {3, 10, 5, {0, -1, 9, 3, -10}},
    {4, 7, 1, {6, 0, -3, 2, 2, 1}},
    {1, 50, 64, {49, 0, -50, 17, 17, 3, 25, -1, 8}},
    {2, 3, 4, {}},
    {6, 1, 96, {0, -1, 0}},
};

TEST_F(CudaKernelsTest, Gather) {
  uint32_t seed = 1000;
  for (const CopyType& t : kCopyTypes) {
    for (DataType index_dt : {DataType::kInt32, DataType::kInt64}) {
      for (const GatherCase& c : kGatherCases) {
        for (size_t misalign : {size_t{0}, t.bytes}) {
          for (uint8_t poison_byte : kCopyPoisons) {
            SCOPED_TRACE("element bytes " + std::to_string(t.bytes) + " index bytes " +
                         std::to_string(index_dt == DataType::kInt32 ? 4 : 8) + " outer " +
                         std::to_string(c.outer) + " axis " + std::to_string(c.axis_len) +
                         " inner " + std::to_string(c.inner) + " indices " +
                         dims_string(c.indices) + " misalign " + std::to_string(misalign));
            const size_t nd = static_cast<size_t>(c.outer * c.axis_len * c.inner);
            const size_t k = c.indices.size(),
                         ny = static_cast<size_t>(c.outer) * k * static_cast<size_t>(c.inner);
            const std::vector<uint8_t> data = random_bytes(nd * t.bytes, seed++);
            std::vector<uint8_t> idx_bytes(k * (index_dt == DataType::kInt32 ? 4 : 8));
            for (size_t j = 0; j < k; ++j) {
              if (index_dt == DataType::kInt32) {
                const int32_t v = static_cast<int32_t>(c.indices[j]);
                std::memcpy(&idx_bytes[j * 4], &v, 4);
              } else {
                std::memcpy(&idx_bytes[j * 8], &c.indices[j], 8);
              }
            }
            DeviceBuffer dd(data.size(), misalign), di(std::max<size_t>(idx_bytes.size(), 1), 0),
                dy(std::max<size_t>(ny * t.bytes, 1), misalign), dbad(4, 0);
            upload(dd, data);
            if (!idx_bytes.empty()) upload(di, idx_bytes);
            poison(dy, poison_byte);
            KILN_CUDA_ASSERT(dbad.fill(0));
            KILN_CUDA_ASSERT(gather(dd.get(), di.get(), index_dt, static_cast<int64_t>(k), dy.get(),
                                    t.dtype, c.outer, c.axis_len, c.inner,
                                    static_cast<int*>(dbad.get()), stream_));
            KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
            if (ny == 0) continue;
            std::vector<uint8_t> y(ny * t.bytes), want(ny * t.bytes);
            download(dy, y, poison_byte);
            const size_t chunk = static_cast<size_t>(c.inner) * t.bytes;
            for (int64_t o = 0; o < c.outer; ++o) {
              for (size_t j = 0; j < k; ++j) {
                const int64_t i = c.indices[j] < 0 ? c.indices[j] + c.axis_len : c.indices[j];
                std::memcpy(&want[(static_cast<size_t>(o) * k + j) * chunk],
                            &data[static_cast<size_t>(o * c.axis_len + i) * chunk], chunk);
              }
            }
            EXPECT_TRUE(want == y);
            int bad = -1;
            KILN_CUDA_ASSERT(cudaMemcpy(&bad, dbad.get(), 4, cudaMemcpyDeviceToHost));
            EXPECT_EQ(bad, 0);
          }
        }
      }
    }
  }
}

TEST_F(CudaKernelsTest, GatherOutOfRangeIndexGivesZerosAndFlag) {
  const std::vector<float> data = random_values<float>(2 * 4 * 3, 1.f, 2.f, 11);
  const std::vector<int64_t> indices = {1, 4, -5, 0};  // 4 and -5 are outside [-4, 4)
  DeviceBuffer dd(data.size() * 4, 0), di(indices.size() * 8, 0), dy(2 * 4 * 3 * 4, 0), dbad(4, 0);
  upload(dd, data);
  upload(di, indices);
  poison(dy);
  KILN_CUDA_ASSERT(dbad.fill(0));
  KILN_CUDA_ASSERT(gather(dd.get(), di.get(), DataType::kInt64, 4, dy.get(), DataType::kFloat32, 2,
                          4, 3, static_cast<int*>(dbad.get()), stream_));
  KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
  std::vector<float> y(2 * 4 * 3);
  download(dy, y);
  for (int o = 0; o < 2; ++o) {
    for (int j = 0; j < 4; ++j) {
      for (int c = 0; c < 3; ++c) {
        const float want =
            j == 1 || j == 2 ? 0.f : data[static_cast<size_t>((o * 4 + (j == 0 ? 1 : 0)) * 3 + c)];
        EXPECT_EQ(y[static_cast<size_t>((o * 4 + j) * 3 + c)], want) << o << " " << j << " " << c;
      }
    }
  }
  int bad = 0;
  KILN_CUDA_ASSERT(cudaMemcpy(&bad, dbad.get(), 4, cudaMemcpyDeviceToHost));
  EXPECT_EQ(bad, 1);
}

// --- host-side planning (no device needed)
// --------------------------------------------------------

TEST(CudaKernelsHost, BroadcastShape) {
  int64_t out[kMaxRank];
  int rank = -1;
  const int64_t a[] = {2, 1, 5}, b[] = {3, 1};
  ASSERT_TRUE(broadcast_shape(a, 3, b, 2, out, &rank));
  EXPECT_EQ(rank, 3);
  EXPECT_EQ(std::vector<int64_t>(out, out + 3), (std::vector<int64_t>{2, 3, 5}));
  const int64_t c[] = {4};
  EXPECT_FALSE(broadcast_shape(a, 3, c, 1, out, &rank));
  ASSERT_TRUE(broadcast_shape(nullptr, 0, nullptr, 0, out, &rank));
  EXPECT_EQ(rank, 0);
}

// The plan's collapsed offsets against naive broadcasting, over random shapes.
TEST(CudaKernelsHost, PlanBroadcastMatchesNaiveOffsets) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 500; ++trial) {
    const int rank = static_cast<int>(rng() % 9);
    std::vector<int64_t> out(static_cast<size_t>(rank));
    for (int64_t& d : out) d = 1 + static_cast<int64_t>(rng() % 4);
    const int count = 1 + static_cast<int>(rng() % kMaxBroadcastOperands);
    std::vector<std::vector<int64_t>> ops(static_cast<size_t>(count));
    for (auto& op : ops) {
      const int r = static_cast<int>(rng() % static_cast<unsigned>(rank + 1));
      op.assign(out.end() - r, out.end());
      for (int64_t& d : op) {
        if (rng() % 3 == 0) d = 1;
      }
    }
    std::vector<const int64_t*> dims;
    std::vector<int> ranks;
    for (const auto& op : ops) {
      dims.push_back(op.data());
      ranks.push_back(static_cast<int>(op.size()));
    }
    BroadcastPlan plan;
    ASSERT_TRUE(plan_broadcast(out.data(), rank, dims.data(), ranks.data(), count, &plan));
    ASSERT_EQ(plan.numel, numel_of(out));
    int64_t collapsed = 1;
    for (int d = 0; d < plan.rank; ++d) {
      EXPECT_GT(plan.dims[d], 1);
      collapsed *= plan.dims[d];
    }
    ASSERT_EQ(collapsed, plan.numel);
    for (int64_t e = 0; e < plan.numel; ++e) {
      for (int k = 0; k < count; ++k) {
        int64_t rem = e, offset = 0;
        for (int d = plan.rank - 1; d >= 0; --d) {
          offset += (rem % plan.dims[d]) * plan.strides[k][d];
          rem /= plan.dims[d];
        }
        ASSERT_EQ(offset, broadcast_offset(out, ops[static_cast<size_t>(k)], e))
            << "out " << dims_string(out) << " operand "
            << dims_string(ops[static_cast<size_t>(k)]);
      }
    }
  }
}

TEST(CudaKernelsHost, PlanBroadcastCollapses) {
  const int64_t out[] = {8, 16, 4, 4}, same[] = {8, 16, 4, 4}, channel[] = {16, 1, 1},
                bad[] = {3, 4};
  const int64_t* dims[] = {same, channel};
  const int ranks[] = {4, 3};
  BroadcastPlan plan;
  ASSERT_TRUE(plan_broadcast(out, 4, dims, ranks, 1, &plan));
  EXPECT_EQ(plan.rank, 1);  // the same shape: one contiguous run
  ASSERT_TRUE(plan_broadcast(out, 4, dims, ranks, 2, &plan));
  ASSERT_EQ(plan.rank, 3);  // [8, 16, 16]: the channel operand reads the middle dim only
  EXPECT_EQ(plan.dims[0], 8);
  EXPECT_EQ(plan.dims[1], 16);
  EXPECT_EQ(plan.dims[2], 16);
  EXPECT_EQ(plan.strides[1][0], 0);
  EXPECT_EQ(plan.strides[1][1], 1);
  EXPECT_EQ(plan.strides[1][2], 0);
  const int64_t* bad_dims[] = {bad};
  const int bad_rank[] = {2};
  EXPECT_FALSE(plan_broadcast(out, 4, bad_dims, bad_rank, 1, &plan));
  const int64_t big[] = {2, 8, 16, 4, 4};
  const int64_t* big_dims[] = {big};
  const int big_rank[] = {5};
  EXPECT_FALSE(plan_broadcast(out, 4, big_dims, big_rank, 1, &plan));  // would enlarge the output
}

TEST(CudaKernelsHost, CollapseViewMatchesNaive) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    StridedView v;
    v.rank = static_cast<int>(rng() % 9);
    v.offset = static_cast<int64_t>(rng() % 100);
    int64_t stride = 1;
    for (int d = v.rank - 1; d >= 0; --d) {
      v.dims[d] = 1 + static_cast<int64_t>(rng() % 4);
      // Mostly contiguous, sometimes a step, a reversal or a broadcast.
      const unsigned kind = rng() % 5;
      v.strides[d] = kind == 0 ? 2 * stride : (kind == 1 ? -stride : (kind == 2 ? 0 : stride));
      stride *= v.dims[d] * (rng() % 2 == 0 ? 1 : 2);  // sometimes a gap between dims
    }
    const StridedView c = collapse_view(v);
    int64_t n = 1, cn = 1;
    for (int d = 0; d < v.rank; ++d) n *= v.dims[d];
    for (int d = 0; d < c.rank; ++d) cn *= c.dims[d];
    ASSERT_EQ(n, cn);
    EXPECT_EQ(c.offset, v.offset);
    for (int64_t e = 0; e < n; ++e) {
      auto offset_of = [e](const StridedView& view) {
        int64_t rem = e, off = view.offset;
        for (int d = view.rank - 1; d >= 0; --d) {
          off += (rem % view.dims[d]) * view.strides[d];
          rem /= view.dims[d];
        }
        return off;
      };
      ASSERT_EQ(offset_of(v), offset_of(c)) << "trial " << trial << " element " << e;
    }
  }
}

TEST(CudaKernelsHost, CollapseTransposeMatchesNaive) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    const int rank = static_cast<int>(rng() % 9);
    std::vector<int64_t> dims(static_cast<size_t>(rank)), perm(static_cast<size_t>(rank));
    for (int64_t& d : dims) d = 1 + static_cast<int64_t>(rng() % 3);
    for (int i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
    if (trial % 3 != 0) std::shuffle(perm.begin(), perm.end(), rng);
    TransposeShape s;
    ASSERT_TRUE(collapse_transpose(dims.data(), perm.data(), rank, &s));
    // Both shapes transpose the same flat data the same way.
    const std::vector<int64_t> cd(s.dims, s.dims + s.rank);
    std::vector<int64_t> cp(s.perm, s.perm + s.rank);
    auto source_of = [](const std::vector<int64_t>& d, const std::vector<int64_t>& p) {
      std::vector<int64_t> yd(d.size()), out;
      for (size_t j = 0; j < d.size(); ++j) yd[j] = d[static_cast<size_t>(p[j])];
      const std::vector<int64_t> xs = strides_of(d);
      for (int64_t e = 0; e < numel_of(d); ++e) {
        int64_t rem = e, off = 0;
        for (size_t j = yd.size(); j-- > 0;) {
          off += (rem % yd[j]) * xs[static_cast<size_t>(p[j])];
          rem /= yd[j];
        }
        out.push_back(off);
      }
      return out;
    };
    EXPECT_EQ(source_of(dims, perm), source_of(cd, cp))
        << dims_string(dims) << " perm " << dims_string(perm);
    for (int d = 0; d < s.rank; ++d) EXPECT_GT(s.dims[d], 1);
    for (int j = 1; j < s.rank; ++j) EXPECT_NE(s.perm[j], s.perm[j - 1] + 1) << "an unmerged run";
  }
  const int64_t dims[] = {2, 3}, dup[] = {0, 0};
  TransposeShape s;
  EXPECT_FALSE(collapse_transpose(dims, dup, 2, &s));
}

TEST(CudaKernelsHost, DecodeFusedPointwise) {
  std::vector<PointwiseStep> steps = {
      activation_step(Activation::kLeakyRelu, 0.3f), binary_step(PointwiseKind::kSub, 2, true),
      unary_step(PointwiseKind::kErf), activation_step(Activation::kGeluTanh),
      binary_step(PointwiseKind::kPow, 1)};
  FusedPointwiseProgram p;
  ASSERT_TRUE(decode_fused_pointwise(steps, &p));
  ASSERT_EQ(p.num_steps, 5);
  EXPECT_EQ(p.steps[0].operand, 0);
  EXPECT_EQ(p.steps[0].unary.kind, UnaryKind::kLeakyRelu);
  EXPECT_EQ(p.steps[0].unary.alpha, 0.3f);
  EXPECT_EQ(p.steps[1].operand, 2);
  EXPECT_EQ(p.steps[1].swapped, 1);
  EXPECT_EQ(p.steps[1].binary, BinaryOp::kSub);
  EXPECT_EQ(p.steps[2].unary.kind, UnaryKind::kErf);
  EXPECT_EQ(p.steps[3].unary.kind, UnaryKind::kGeluTanh);
  EXPECT_EQ(p.steps[4].binary, BinaryOp::kPow);
  EXPECT_EQ(p.steps[4].swapped, 0);
  steps.assign(kMaxFusedSteps + 1, unary_step(PointwiseKind::kNeg));
  EXPECT_FALSE(decode_fused_pointwise(steps, &p));
  steps = {binary_step(PointwiseKind::kAdd, kMaxFusedOperands + 1)};
  EXPECT_FALSE(decode_fused_pointwise(steps, &p));
}

// Arguments the launch functions refuse, and empty work, are answered on the host.
TEST(CudaKernelsHost, ArgumentsCheckedBeforeAnyLaunch) {
  float fake = 0;  // never dereferenced: every call below returns before touching the device
  void* p = &fake;
  const int64_t dims[] = {2, 3}, bad_perm[] = {1, 1}, perm[] = {1, 0};
  EXPECT_EQ(transpose(p, p, DataType::kFloat32, dims, bad_perm, 2, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(transpose(p, p, DataType::kString, dims, perm, 2, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(layer_norm(p, p, nullptr, p, nullptr, nullptr, DataType::kInt32, 2, 3, 1e-5f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(layer_norm(p, p, nullptr, p, nullptr, nullptr, DataType::kFloat32, 2, 3, -1.f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(softmax(p, p, DataType::kFloat64, 2, 3, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cast(p, DataType::kFloat32, p, DataType::kInt8, 4, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(gather(p, p, DataType::kInt16, 1, p, DataType::kFloat32, 1, 1, 1, nullptr, nullptr),
            cudaErrorInvalidValue);
  const int64_t a[] = {2, 3}, b[] = {4};
  EXPECT_EQ(binary(BinaryOp::kAdd, p, a, 2, p, b, 1, p, DataType::kFloat32, nullptr),
            cudaErrorInvalidValue);
  const int64_t x_dims[] = {4}, starts[] = {3}, steps[] = {1}, y_dims[] = {2};  // reads index 4
  EXPECT_EQ(slice(p, x_dims, 1, starts, steps, p, y_dims, DataType::kFloat32, nullptr),
            cudaErrorInvalidValue);
  FusedPointwiseProgram program;
  program.num_steps = 1;
  program.steps[0].operand = 2;  // the node has one operand
  const int64_t* operand_dims[] = {x_dims};
  const int operand_ranks[] = {1};
  const void* operands[] = {p};
  EXPECT_EQ(fused_pointwise(program, p, x_dims, 1, operands, operand_dims, operand_ranks, 1, p,
                            DataType::kFloat32, nullptr),
            cudaErrorInvalidValue);
  // Empty work succeeds without a device.
  EXPECT_EQ(unary(UnaryOp{}, p, p, DataType::kFloat32, 0, nullptr), cudaSuccess);
  EXPECT_EQ(
      layer_norm(p, p, nullptr, p, nullptr, nullptr, DataType::kFloat32, 0, 3, 1e-5f, nullptr),
      cudaSuccess);
  EXPECT_EQ(reduce_rows(p, p, DataType::kFloat32, ReduceOp::kSum, 0, 5, nullptr), cudaSuccess);
  const int64_t empty[] = {0, 3};
  EXPECT_EQ(transpose(p, p, DataType::kFloat32, empty, perm, 2, nullptr), cudaSuccess);
}

TEST(CudaKernelsHost, ElementBytes) {
  EXPECT_EQ(element_bytes(DataType::kBool), 1u);
  EXPECT_EQ(element_bytes(DataType::kFloat8E5M2), 1u);
  EXPECT_EQ(element_bytes(DataType::kBFloat16), 2u);
  EXPECT_EQ(element_bytes(DataType::kInt32), 4u);
  EXPECT_EQ(element_bytes(DataType::kFloat64), 8u);
  EXPECT_EQ(element_bytes(DataType::kString), 0u);
  EXPECT_EQ(element_bytes(DataType::kComplex64), 0u);
}

}  // namespace
}  // namespace kiln::cuda
