// The cuBLASLt matrix products (src/backends/cuda/libs/cublaslt_matmul.h) against a CPU
// reference in double.
//
// Every GPU case builds each operand as the image of its whole device buffer: 256 guard bytes on
// both sides and every element that is not part of the product (row padding, gaps between
// batches) set to 0xFF bytes, NaN in every float type, so that a read of one shows up as NaN in
// the result. Inputs are random and non-zero (magnitudes 1/16 to 1, rounded to their dtype, and
// the reference uses the rounded values). D is poisoned the same way before the run; afterwards
// every element of the product is compared with the reference and every other byte of D's buffer
// must be unchanged. The bound per element is derived from the operands: fp32 accumulation error
// (a multiple of K·2^-24 of Σ|alpha·a·b| + |bias| + |beta·c|), TF32's input rounding, one
// rounding step of the output dtype, plus the GELU epilogue's approximation; the relative L2
// error over all elements is checked too.
//
// Covered: float32 with and without TF32, float16/bfloat16 inputs with 16-bit or float32 output,
// all transpose combinations, odd M/N/K (1, 7, 129), batches with broadcast A or B (stride 0),
// padded row and batch strides, each epilogue, alpha != 1, beta·C in place (kiln.FusedMatMul's
// residual) and out of place, pointers 16 bytes off a 256-byte boundary, tune_matmul, and
// algorithm records replayed and rejected. The GPU cases skip ("skipped: no CUDA device") where
// the runtime finds no device; desc validation, keys, extents and the record format are tested
// everywhere.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/libs/cublaslt_matmul.h"
#include "core/activation.h"
#include "unit/cuda_test_util.h"

namespace kiln::cuda {
namespace {

// --- device access ---------------------------------------------------------------------------

using ::kiln::test::cuda::elem_size;
using ::kiln::test::cuda::kGuardBytes;
using ::kiln::test::cuda::kPoison;
using ::kiln::test::cuda::load_elem;
using ::kiln::test::cuda::store_elem;

class CudaMatmulTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KILN_SKIP_WITHOUT_CUDA_DEVICE();
    KILN_CUDA_ASSERT(cudaStreamCreate(&stream_));
    auto h = CublasLtHandle::create();
    ASSERT_TRUE(h.ok()) << h.status().message();
    handle_ = std::move(h).value();
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
  CublasLtHandle handle_;
};

// x rounded to dtype t, as the bytes of one element and as its value.
double round_to(DataType t, double x, uint8_t* bytes) {
  store_elem(t, static_cast<float>(x), bytes);
  return load_elem(t, bytes);
}

// One operand as the image of its device buffer: guards, then `misalign` bytes, then `extent`
// elements of which only those set with set_random / set are part of the product.
struct Operand {
  DataType dtype = DataType::kFloat32;
  size_t misalign = 0;
  int64_t extent = 0;
  std::vector<uint8_t> image;
  std::vector<double> value;
  std::vector<char> used;

  Operand(DataType t, int64_t elements, size_t misalign_bytes)
      : dtype(t),
        misalign(misalign_bytes),
        extent(elements),
        image(2 * kGuardBytes + misalign_bytes + static_cast<size_t>(elements) * elem_size(t),
              kPoison),
        value(static_cast<size_t>(elements), 0.0),
        used(static_cast<size_t>(elements), 0) {}

  size_t offset(int64_t i) const {
    return kGuardBytes + misalign + static_cast<size_t>(i) * elem_size(dtype);
  }
  void set(int64_t i, double x) {
    value[static_cast<size_t>(i)] = round_to(dtype, x, &image[offset(i)]);
    used[static_cast<size_t>(i)] = 1;
  }
  // A random non-zero value, once per element (a broadcast operand reaches one several times).
  void set_random(int64_t i, std::mt19937& rng) {
    if (used[static_cast<size_t>(i)]) return;
    std::uniform_real_distribution<double> magnitude(1.0 / 16, 1.0);
    const double sign = (rng() & 1) ? -1.0 : 1.0;
    set(i, sign * magnitude(rng));
  }
  double at(int64_t i) const { return value[static_cast<size_t>(i)]; }
};

// A device copy of an Operand's image, freed with it.
class DeviceImage {
 public:
  explicit DeviceImage(const Operand& op) : bytes_(op.image.size()), misalign_(op.misalign) {
    if (cudaMalloc(&base_, bytes_) != cudaSuccess) base_ = nullptr;
  }
  ~DeviceImage() {
    if (base_) cudaFree(base_);
  }
  DeviceImage(const DeviceImage&) = delete;
  DeviceImage& operator=(const DeviceImage&) = delete;

  bool allocated() const { return base_ != nullptr; }
  void* data() const { return static_cast<uint8_t*>(base_) + kGuardBytes + misalign_; }
  cudaError_t upload(const Operand& op) const {
    return cudaMemcpy(base_, op.image.data(), bytes_, cudaMemcpyHostToDevice);
  }
  cudaError_t download(std::vector<uint8_t>* image) const {
    image->resize(bytes_);
    return cudaMemcpy(image->data(), base_, bytes_, cudaMemcpyDeviceToHost);
  }

 private:
  void* base_ = nullptr;
  size_t bytes_;
  size_t misalign_;
};

// --- the reference ---------------------------------------------------------------------------

double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double gelu_erf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

double apply(MatmulActivation a, double x) {
  switch (a) {
    case MatmulActivation::kNone:
      return x;
    case MatmulActivation::kRelu:
      return x < 0 ? 0.0 : x;
    case MatmulActivation::kGelu:
      return gelu_tanh(x);
  }
  return x;
}

// How far the GELU epilogue's output was from either form, over a test's elements.
struct GeluDistance {
  double from_tanh = 0, from_erf = 0;
};

// The relative rounding step of an output dtype (one unit in the last place at 1).
double output_ulp(DataType t) {
  return t == DataType::kFloat32 ? 0x1p-23 : t == DataType::kFloat16 ? 0x1p-10 : 0x1p-7;
}

// The largest relative L2 error accepted over a whole product.
double rel_l2_bound(const MatmulDesc& d) {
  if (d.output_dtype == DataType::kBFloat16) return 1.6e-2;
  if (d.output_dtype == DataType::kFloat16) return 2e-3;
  if (d.compute == MatmulCompute::kTf32) return 3e-3;
  return d.activation == MatmulActivation::kGelu ? 1e-3 : 1e-5;
}

struct CheckOptions {
  size_t misalign = 0;   // bytes past the 256-byte boundary, for every operand
  bool in_place = true;  // with beta != 0: C is D's buffer (else a buffer of its own)
  uint32_t seed = 1;
  GeluDistance* gelu = nullptr;
};

// Runs `plan` (or a heuristic plan for `desc` when `plan` is null) on random operands and
// checks D against the reference, and D's buffer outside the product against its poison.
void check_product(cublasLtHandle_t handle, cudaStream_t stream, const MatmulDesc& desc,
                   const MatmulPlan* plan, const CheckOptions& opt) {
  SCOPED_TRACE(matmul_key(desc));
  std::optional<MatmulPlan> own;
  if (!plan) {
    auto p = create_matmul_plan(handle, desc);
    ASSERT_TRUE(p.ok()) << p.status().message();
    own.emplace(std::move(p).value());
    plan = &*own;
  }
  const MatmulDesc d = resolve_strides(desc);
  const MatmulExtents e = matmul_extents(d);
  std::mt19937 rng(opt.seed);

  const auto index_a = [&](int64_t b, int64_t i, int64_t kk) {
    return b * d.batch_stride_a + (d.trans_a ? kk * d.lda + i : i * d.lda + kk);
  };
  const auto index_b = [&](int64_t b, int64_t kk, int64_t j) {
    return b * d.batch_stride_b + (d.trans_b ? j * d.ldb + kk : kk * d.ldb + j);
  };
  const auto index_d = [&](int64_t b, int64_t i, int64_t j) {
    return b * d.batch_stride_d + i * d.ldd + j;
  };

  Operand a(d.input_dtype, e.a, opt.misalign), b(d.input_dtype, e.b, opt.misalign);
  Operand out(d.output_dtype, e.d, opt.misalign),
      bias(d.output_dtype, std::max<int64_t>(e.bias, 1), opt.misalign);
  Operand c(d.output_dtype, e.d, opt.misalign);
  for (int64_t bi = 0; bi < d.batch; ++bi) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t kk = 0; kk < d.k; ++kk) a.set_random(index_a(bi, i, kk), rng);
    }
    for (int64_t kk = 0; kk < d.k; ++kk) {
      for (int64_t j = 0; j < d.n; ++j) b.set_random(index_b(bi, kk, j), rng);
    }
  }
  if (d.bias) {
    for (int64_t j = 0; j < d.n; ++j) bias.set_random(j, rng);
  }
  const bool reads_c = d.beta != 0.0f;
  // C = Z: in place it is written into D's buffer, which the product then overwrites.
  Operand& z = opt.in_place ? out : c;
  if (reads_c) {
    for (int64_t bi = 0; bi < d.batch; ++bi) {
      for (int64_t i = 0; i < d.m; ++i) {
        for (int64_t j = 0; j < d.n; ++j) z.set_random(index_d(bi, i, j), rng);
      }
    }
  }
  const Operand z_before = z;  // its values, before an in-place run overwrites them
  const std::vector<uint8_t> out_before = out.image;

  DeviceImage da(a), db(b), dd(out), dbias(bias), dc(c);
  ASSERT_TRUE(da.allocated() && db.allocated() && dd.allocated() && dbias.allocated() &&
              dc.allocated());
  KILN_CUDA_ASSERT(da.upload(a));
  KILN_CUDA_ASSERT(db.upload(b));
  KILN_CUDA_ASSERT(dd.upload(out));
  KILN_CUDA_ASSERT(dbias.upload(bias));
  KILN_CUDA_ASSERT(dc.upload(c));
  void* workspace = nullptr;
  if (plan->workspace_bytes() > 0)
    KILN_CUDA_ASSERT(cudaMalloc(&workspace, plan->workspace_bytes()));
  MatmulOperands x;
  x.a = da.data();
  x.b = db.data();
  x.d = dd.data();
  x.c = reads_c ? (opt.in_place ? dd.data() : dc.data()) : nullptr;
  x.bias = d.bias ? dbias.data() : nullptr;
  const Status run = run_matmul(handle, *plan, x, workspace, plan->workspace_bytes(), stream);
  const cudaError_t synced = cudaStreamSynchronize(stream);
  if (workspace) cudaFree(workspace);
  ASSERT_TRUE(run.ok()) << run.message();
  KILN_CUDA_ASSERT(synced);
  std::vector<uint8_t> got_image;
  KILN_CUDA_ASSERT(dd.download(&got_image));

  // Bytes of D's buffer outside the product: unchanged.
  std::vector<char> in_product(got_image.size(), 0);
  const size_t es = elem_size(d.output_dtype);
  for (int64_t bi = 0; bi < d.batch; ++bi) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        const size_t at = out.offset(index_d(bi, i, j));
        std::fill(in_product.begin() + static_cast<std::ptrdiff_t>(at),
                  in_product.begin() + static_cast<std::ptrdiff_t>(at + es), 1);
      }
    }
  }
  size_t stray = 0;
  for (size_t i = 0; i < got_image.size(); ++i) {
    if (!in_product[i] && got_image[i] != out_before[i]) ++stray;
  }
  EXPECT_EQ(stray, 0u) << "bytes of D's buffer outside the product changed";

  // Products: each element within its bound, NaN never.
  const double acc_rel =
      (d.input_dtype == DataType::kFloat32 ? 0x1p-24 : 0x1p-22) * (2 * d.k + 16) +
      (d.compute == MatmulCompute::kTf32 ? 0x1p-9 : 0.0);
  const double ulp = output_ulp(d.output_dtype);
  const bool gelu = d.activation == MatmulActivation::kGelu;
  double err2 = 0, ref2 = 0;
  size_t bad = 0;
  std::string shown;
  for (int64_t bi = 0; bi < d.batch; ++bi) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double acc = 0, mag = 0;  // mag: Σ|a·b|, what bounds the accumulation error
        for (int64_t kk = 0; kk < d.k; ++kk) {
          const double p = a.at(index_a(bi, i, kk)) * b.at(index_b(bi, kk, j));
          acc += p;
          mag += std::abs(p);
        }
        double pre = d.alpha * acc;
        mag *= std::abs(d.alpha);
        // terms: the magnitudes of what is summed after the product, which bound the error of
        // an epilogue that rounds the product to the output dtype before adding the rest.
        double terms = std::abs(pre);
        if (d.bias) {
          pre += bias.at(j);
          mag += std::abs(bias.at(j));
          terms += std::abs(bias.at(j));
        }
        if (reads_c) {
          const double cz = d.beta * z_before.at(index_d(bi, i, j));
          pre += cz;
          mag += std::abs(cz);
          terms += std::abs(cz);
        }
        const double want = apply(d.activation, pre);
        const double got = load_elem(d.output_dtype, &got_image[out.offset(index_d(bi, i, j))]);
        // GELU's slope is below 1.13, so errors before it grow by at most that much; its
        // approximation is held to 2e-3 (erf and tanh forms differ by up to 4.7e-4).
        const double tol = (gelu ? 1.2 : 1.0) * acc_rel * mag + ulp * (std::abs(want) + terms) +
                           (gelu ? 2e-3 + 1e-3 * std::abs(want) : 0.0);
        const double diff = std::abs(got - want);
        if (!(diff <= tol) && bad++ < 5) {
          shown += " [b" + std::to_string(bi) + " " + std::to_string(i) + "," + std::to_string(j) +
                   "] got " + std::to_string(got) + " want " + std::to_string(want) + " (tol " +
                   std::to_string(tol) + ")";
        }
        err2 += (got - want) * (got - want);
        ref2 += want * want;
        if (gelu && opt.gelu) {
          opt.gelu->from_tanh = std::max(opt.gelu->from_tanh, std::abs(got - gelu_tanh(pre)));
          opt.gelu->from_erf = std::max(opt.gelu->from_erf, std::abs(got - gelu_erf(pre)));
        }
      }
    }
  }
  EXPECT_EQ(bad, 0u) << bad << " of " << d.batch * d.m * d.n << " elements off:" << shown;
  const double rel_l2 = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  EXPECT_LE(rel_l2, rel_l2_bound(d)) << "relative L2 error";  // false for NaN
}

MatmulDesc make_desc(int64_t m, int64_t n, int64_t k, DataType in, DataType out) {
  MatmulDesc d;
  d.m = m;
  d.n = n;
  d.k = k;
  d.input_dtype = in;
  d.output_dtype = out;
  d.alignment = 16;
  return d;
}

struct Mnk {
  int64_t m, n, k;
};

// --- products --------------------------------------------------------------------------------

TEST_F(CudaMatmulTest, Float32WithoutTf32EveryTransposeAndOddSizes) {
  const Mnk shapes[] = {{1, 1, 1}, {1, 7, 129}, {7, 129, 1}, {129, 7, 7}, {129, 129, 129}};
  uint32_t seed = 10;
  for (const Mnk& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      MatmulDesc d = make_desc(s.m, s.n, s.k, DataType::kFloat32, DataType::kFloat32);
      d.trans_a = t & 1;
      d.trans_b = t & 2;
      d.alignment = 4;  // odd row lengths: only the first row of each operand is 16-byte aligned
      check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++});
    }
  }
}

TEST_F(CudaMatmulTest, Float32WithTf32) {
  const Mnk shapes[] = {{129, 129, 129}, {7, 136, 256}};
  uint32_t seed = 20;
  for (const Mnk& s : shapes) {
    for (int t : {0, 3}) {
      MatmulDesc d = make_desc(s.m, s.n, s.k, DataType::kFloat32, DataType::kFloat32);
      d.compute = MatmulCompute::kTf32;
      d.trans_a = t & 1;
      d.trans_b = t & 2;
      d.alignment = 4;
      check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++});
    }
  }
}

TEST_F(CudaMatmulTest, SixteenBitInputsWith16BitOrFloat32Output) {
  const Mnk shapes[] = {{129, 129, 129}, {7, 1, 129}, {64, 136, 7}};
  uint32_t seed = 30;
  for (DataType in : {DataType::kFloat16, DataType::kBFloat16}) {
    for (DataType out : {in, DataType::kFloat32}) {
      for (const Mnk& s : shapes) {
        for (int t = 0; t < 4; ++t) {
          MatmulDesc d = make_desc(s.m, s.n, s.k, in, out);
          d.trans_a = t & 1;
          d.trans_b = t & 2;
          d.alignment = 4;
          check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++});
        }
      }
    }
  }
}

TEST_F(CudaMatmulTest, BatchedWithBroadcastOperands) {
  uint32_t seed = 40;
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    // numpy broadcasting of a missing batch dim: [3, M, K] @ [K, N] and [M, K] @ [3, K, N].
    MatmulDesc shared_b = make_desc(33, 72, 40, t, t);
    shared_b.batch = 3;
    shared_b.batch_stride_b = 0;
    check_product(handle_.get(), stream_, shared_b, nullptr, {.seed = seed++});
    shared_b.trans_b = true;  // a transposed shared weight, as Linear layers store it
    check_product(handle_.get(), stream_, shared_b, nullptr, {.seed = seed++});

    MatmulDesc shared_a = make_desc(24, 40, 72, t, t);
    shared_a.batch = 3;
    shared_a.batch_stride_a = 0;
    shared_a.trans_a = true;
    check_product(handle_.get(), stream_, shared_a, nullptr, {.seed = seed++});

    MatmulDesc both = make_desc(7, 129, 129, t, t);
    both.batch = 4;
    both.alignment = static_cast<int>(elem_size(t));  // odd batch strides
    check_product(handle_.get(), stream_, both, nullptr, {.seed = seed++});
  }
}

TEST_F(CudaMatmulTest, PaddedRowAndBatchStridesLeaveGapsAlone) {
  // Row padding and batch gaps are poisoned with NaN: reading one, or writing D's, fails.
  MatmulDesc d = make_desc(40, 48, 56, DataType::kFloat16, DataType::kFloat16);
  d.lda = 56 + 8;
  d.ldb = 48 + 16;
  d.ldd = 48 + 8;
  d.batch = 2;
  d.batch_stride_a = 40 * d.lda + 24;
  d.batch_stride_b = 56 * d.ldb + 8;
  d.batch_stride_d = 40 * d.ldd + 32;
  check_product(handle_.get(), stream_, d, nullptr, {.seed = 50});

  MatmulDesc odd = make_desc(7, 9, 11, DataType::kFloat32, DataType::kFloat32);
  odd.trans_a = true;
  odd.lda = 7 + 3;
  odd.ldb = 9 + 1;
  odd.ldd = 9 + 2;
  odd.alignment = 4;
  check_product(handle_.get(), stream_, odd, nullptr, {.seed = 51});
}

TEST_F(CudaMatmulTest, EveryEpilogue) {
  struct Epilogue {
    bool bias;
    MatmulActivation act;
  };
  const Epilogue epilogues[] = {{true, MatmulActivation::kNone},
                                {false, MatmulActivation::kRelu},
                                {true, MatmulActivation::kRelu},
                                {false, MatmulActivation::kGelu},
                                {true, MatmulActivation::kGelu}};
  uint32_t seed = 60;
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    GeluDistance gelu;
    for (const Epilogue& ep : epilogues) {
      for (const Mnk& s : {Mnk{65, 136, 129}, Mnk{129, 24, 40}}) {
        MatmulDesc d = make_desc(s.m, s.n, s.k, t, t);
        d.bias = ep.bias;
        d.activation = ep.act;
        d.trans_b = true;
        check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++, .gelu = &gelu});
      }
    }
    // Which GELU cuBLASLt computes is not documented: report it (the check above accepts both
    // forms). Only float32 output resolves the 4.7e-4 between them; 16-bit rounding hides it.
    if (t == DataType::kFloat32) {
      std::printf(
          "[   info   ] cuBLASLt GELU epilogue, float32 output: max |D - gelu_tanh| = %.3g, "
          "max |D - gelu_erf| = %.3g\n",
          gelu.from_tanh, gelu.from_erf);
    }
  }
}

TEST_F(CudaMatmulTest, AlphaScalesTheProductNotTheBias) {
  uint32_t seed = 70;
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    MatmulDesc d = make_desc(48, 40, 129, t, t);
    d.alpha = -0.75f;
    d.bias = true;
    d.activation = MatmulActivation::kRelu;
    check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++});
    d.alpha = 2.5f;
    d.bias = false;
    d.activation = MatmulActivation::kNone;
    check_product(handle_.get(), stream_, d, nullptr, {.seed = seed++});
  }
}

TEST_F(CudaMatmulTest, ResidualAddInPlaceAndOutOfPlace) {
  // kiln.FusedMatMul's Z: beta = 1 with C = D (the residual's buffer becomes the output).
  MatmulDesc d = make_desc(65, 72, 129, DataType::kFloat32, DataType::kFloat32);
  d.beta = 1.0f;
  d.bias = true;
  check_product(handle_.get(), stream_, d, nullptr, {.in_place = true, .seed = 80});
  d.input_dtype = d.output_dtype = DataType::kFloat16;
  d.bias = false;
  check_product(handle_.get(), stream_, d, nullptr, {.in_place = true, .seed = 81});
  // Gemm's C, scaled, from a buffer of its own.
  d.input_dtype = d.output_dtype = DataType::kBFloat16;
  d.beta = -0.5f;
  d.bias = true;
  check_product(handle_.get(), stream_, d, nullptr, {.in_place = false, .seed = 82});
  // The activation after the residual (kiln.FusedMatMul's post_activation): relu(AB + bias + Z).
  d.input_dtype = d.output_dtype = DataType::kFloat16;
  d.beta = 1.0f;
  d.activation = MatmulActivation::kRelu;
  check_product(handle_.get(), stream_, d, nullptr, {.in_place = true, .seed = 83});
}

TEST_F(CudaMatmulTest, PointersOffA256ByteBoundary) {
  uint32_t seed = 90;
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    MatmulDesc d = make_desc(64, 72, 136, t, t);
    d.bias = true;
    d.beta = 1.0f;
    check_product(handle_.get(), stream_, d, nullptr,
                  {.misalign = 16, .in_place = false, .seed = seed++});
  }
}

TEST_F(CudaMatmulTest, RunRefusesBadOperands) {
  MatmulDesc d = make_desc(64, 64, 64, DataType::kFloat16, DataType::kFloat16);
  d.bias = true;
  auto plan = create_matmul_plan(handle_.get(), d);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  void* buffer = nullptr;
  KILN_CUDA_ASSERT(cudaMalloc(&buffer, 1 << 16));
  char* p = static_cast<char*>(buffer);
  MatmulOperands x{p, p + 8192, nullptr, p + 16384, p + 32768};
  // The bias pointer is missing.
  MatmulOperands no_bias = x;
  no_bias.bias = nullptr;
  Status s = run_matmul(handle_.get(), *plan, no_bias, nullptr, 0, stream_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  // A is 2 bytes off the 16 the plan was made for.
  MatmulOperands misaligned = x;
  misaligned.a = p + 2;
  s = run_matmul(handle_.get(), *plan, misaligned, nullptr, 0, stream_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  EXPECT_NE(s.message().find("aligned"), std::string::npos) << s.message();
  // Too little workspace, when the algorithm needs some.
  if (plan->workspace_bytes() > 0) {
    s = run_matmul(handle_.get(), *plan, x, p + 49152, plan->workspace_bytes() - 1, stream_);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  }
  KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
  KILN_CUDA_ASSERT(cudaFree(buffer));
}

// --- tuning and records ------------------------------------------------------------------------

MatmulDesc tuned_desc() {
  MatmulDesc d = make_desc(256, 384, 320, DataType::kFloat16, DataType::kFloat16);
  d.trans_b = true;
  d.bias = true;
  d.activation = MatmulActivation::kGelu;
  return d;
}

TEST_F(CudaMatmulTest, TuneTimesCandidatesAndKeepsTheFastest) {
  const MatmulDesc d = tuned_desc();
  TuneOptions options;
  options.candidates = 6;
  options.warmup_runs = 2;
  options.timed_runs = 5;
  auto tuned = tune_matmul(handle_.get(), d, options, stream_);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  ASSERT_FALSE(tuned->candidates.empty());
  ASSERT_LE(tuned->candidates.size(), 6u);
  ASSERT_GE(tuned->chosen, 0);
  ASSERT_LT(static_cast<size_t>(tuned->chosen), tuned->candidates.size());
  const CandidateTiming& chosen = tuned->candidates[static_cast<size_t>(tuned->chosen)];
  EXPECT_TRUE(chosen.error.empty());
  EXPECT_GT(chosen.record.median_ms, 0.0f);
  for (size_t i = 0; i < tuned->candidates.size(); ++i) {
    const CandidateTiming& c = tuned->candidates[i];
    EXPECT_EQ(c.rank, static_cast<int>(i));
    if (c.error.empty()) {
      EXPECT_LE(chosen.record.median_ms, c.record.median_ms);
    }
    std::printf(
        "[   info   ] candidate %d: %s\n", c.rank,
        c.error.empty() ? (std::to_string(c.record.median_ms) + " ms").c_str() : c.error.c_str());
  }
  EXPECT_EQ(tuned->record.key, matmul_key(d));
  EXPECT_EQ(tuned->record.cublaslt_version, cublaslt_version());
  EXPECT_EQ(tuned->record.algo, chosen.record.algo);
  EXPECT_EQ(tuned->record.median_ms, chosen.record.median_ms);
  EXPECT_EQ(tuned->plan.record().algo, chosen.record.algo);
  EXPECT_EQ(tuned->plan.workspace_bytes(), chosen.record.workspace_bytes);
  check_product(handle_.get(), stream_, d, &tuned->plan, {.seed = 100});
}

TEST_F(CudaMatmulTest, ReplayedRecordRunsAndDamagedOnesAreRefused) {
  const MatmulDesc d = tuned_desc();
  TuneOptions options;
  options.candidates = 4;
  options.warmup_runs = 1;
  options.timed_runs = 3;
  auto tuned = tune_matmul(handle_.get(), d, options, stream_);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();

  // Through the text form and back, as a timing cache file would hold it.
  const std::string line = serialize_algo_record(tuned->record);
  auto parsed = parse_algo_record(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto replayed = create_matmul_plan(handle_.get(), d, *parsed);
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_EQ(replayed->record().algo, tuned->record.algo);
  check_product(handle_.get(), stream_, d, &*replayed, {.seed = 110});

  // A changed digit of the algorithm in the text: the checksum catches it.
  std::string damaged = line;
  const size_t at = damaged.find("algo=") + 5 + 3;
  damaged[at] = damaged[at] == '0' ? '1' : '0';
  auto bad_text = parse_algo_record(damaged);
  ASSERT_FALSE(bad_text.ok());
  EXPECT_EQ(bad_text.status().code(), StatusCode::kCorrupt);

  // Garbage algorithm bytes with a valid checksum (a cache written by something else):
  // cublasLtMatmulAlgoCheck refuses them.
  AlgoRecord garbage = *parsed;
  garbage.algo.fill(~uint64_t{0});
  auto reparsed = parse_algo_record(serialize_algo_record(garbage));
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().message();
  auto refused = create_matmul_plan(handle_.get(), d, *reparsed);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cublasLtMatmulAlgoCheck"), std::string::npos)
      << refused.status().message();

  // Another cuBLASLt version.
  AlgoRecord other_version = *parsed;
  other_version.cublaslt_version += 1;
  auto old = create_matmul_plan(handle_.get(), d, other_version);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kIncompatible) << old.status().message();

  // Another product.
  MatmulDesc other = d;
  other.n = 392;
  auto wrong_key = create_matmul_plan(handle_.get(), other, *parsed);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().code(), StatusCode::kInvalidArgument)
      << wrong_key.status().message();

  // An algorithm of another dtype's product, relabelled with this key: AlgoCheck refuses it or
  // it is one that computes this product correctly. Either way nothing wrong runs unnoticed.
  MatmulDesc f32 = d;
  f32.input_dtype = f32.output_dtype = DataType::kFloat32;
  f32.compute = MatmulCompute::kFloat32;
  auto f32_plan = create_matmul_plan(handle_.get(), f32);
  ASSERT_TRUE(f32_plan.ok()) << f32_plan.status().message();
  AlgoRecord relabelled = f32_plan->record();
  relabelled.key = matmul_key(d);
  auto cross = create_matmul_plan(handle_.get(), d, relabelled);
  if (cross.ok()) {
    check_product(handle_.get(), stream_, d, &*cross, {.seed = 111});
  } else {
    EXPECT_NE(cross.status().message().find("cublasLtMatmulAlgoCheck"), std::string::npos)
        << cross.status().message();
  }
}

// --- host side (every machine) ---------------------------------------------------------------

TEST(MatmulDescTest, ValidationRefusesWhatCublasLtCannotDo) {
  const MatmulDesc ok = make_desc(8, 8, 8, DataType::kFloat16, DataType::kFloat16);
  EXPECT_TRUE(validate_matmul_desc(ok).ok());
  const auto refused = [](MatmulDesc d, const char* word) {
    const Status s = validate_matmul_desc(d);
    EXPECT_FALSE(s.ok()) << word;
    EXPECT_NE(s.message().find(word), std::string::npos) << s.message();
  };
  MatmulDesc d = ok;
  d.k = 0;
  refused(d, "at least 1");
  d = ok;
  d.lda = 7;
  refused(d, "lda");
  d = ok;
  d.trans_b = true;
  d.ldb = 7;
  refused(d, "ldb");
  d = ok;
  d.ldd = 4;
  refused(d, "ldd");
  d = ok;
  d.batch = 2;
  d.batch_stride_d = 63;
  refused(d, "overlap");
  d = ok;
  d.batch = 2;
  d.batch_stride_d = 0;
  refused(d, "overlap");
  d = ok;
  d.lda = -5;
  refused(d, "negative");
  d = ok;
  d.compute = MatmulCompute::kTf32;
  refused(d, "TF32");
  d = ok;
  d.output_dtype = DataType::kBFloat16;
  refused(d, "f16");
  d = ok;
  d.input_dtype = DataType::kFloat32;  // f32 -> f16 output
  refused(d, "f32");
  d = ok;
  d.input_dtype = d.output_dtype = DataType::kFloat64;
  refused(d, "float32");
  d = ok;
  d.alignment = 24;
  refused(d, "power of two");
  d = ok;
  d.alignment = 512;
  refused(d, "power of two");
  d = ok;
  d.input_dtype = d.output_dtype = DataType::kFloat32;
  d.alignment = 2;
  refused(d, "power of two");
  d = ok;
  d.alpha = std::numeric_limits<float>::infinity();
  refused(d, "finite");
  d = ok;
  d.batch = 2;
  d.batch_stride_a = 68;  // 136 bytes: the second A is 8-byte aligned, not 16
  refused(d, "multiple");
  d.alignment = 8;
  EXPECT_TRUE(validate_matmul_desc(d).ok());
  // Broadcast A or B, a beta with bias only, TF32 for float32: accepted.
  d = ok;
  d.batch = 3;
  d.batch_stride_a = 0;
  d.batch_stride_b = 0;
  EXPECT_TRUE(validate_matmul_desc(d).ok());
  d = ok;
  d.beta = 1.0f;
  d.bias = true;
  EXPECT_TRUE(validate_matmul_desc(d).ok());
  d = make_desc(8, 8, 8, DataType::kFloat32, DataType::kFloat32);
  d.compute = MatmulCompute::kTf32;
  EXPECT_TRUE(validate_matmul_desc(d).ok());
  d = make_desc(8, 8, 8, DataType::kBFloat16, DataType::kFloat32);
  EXPECT_TRUE(validate_matmul_desc(d).ok());
}

TEST(MatmulDescTest, StridesExtentsAndKeys) {
  MatmulDesc d = make_desc(5, 6, 7, DataType::kFloat16, DataType::kFloat16);
  d.trans_a = true;  // A stored [7, 5]
  d.trans_b = true;  // B stored [6, 7]
  d.batch = 3;
  d.batch_stride_b = 0;
  d.bias = true;
  const MatmulDesc r = resolve_strides(d);
  EXPECT_EQ(r.lda, 5);
  EXPECT_EQ(r.ldb, 7);
  EXPECT_EQ(r.ldd, 6);
  EXPECT_EQ(r.batch_stride_a, 35);
  EXPECT_EQ(r.batch_stride_b, 0);
  EXPECT_EQ(r.batch_stride_d, 30);
  const MatmulExtents e = matmul_extents(d);
  EXPECT_EQ(e.a, 3 * 35);
  EXPECT_EQ(e.b, 42);
  EXPECT_EQ(e.d, 90);
  EXPECT_EQ(e.bias, 6);
  d.ldd = 8;
  EXPECT_EQ(matmul_extents(d).d, 2 * 5 * 8 + 4 * 8 + 6);

  // The key: equal for the same product, different for any change that matters, blind to
  // alpha and beta's value.
  MatmulDesc ffn_up = make_desc(128, 3072, 768, DataType::kFloat16, DataType::kFloat16);
  ffn_up.trans_b = true;
  ffn_up.bias = true;
  ffn_up.activation = MatmulActivation::kGelu;
  EXPECT_EQ(matmul_key(ffn_up),
            "m128.n3072.k768.b1.nt.ld768,768,3072.s0,0,0.f16>f16.f32.bias.gelu.al16");
  const MatmulDesc base = make_desc(128, 768, 768, DataType::kFloat16, DataType::kFloat16);
  const std::string key = matmul_key(base);
  EXPECT_EQ(key.find(' '), std::string::npos) << key;
  MatmulDesc same = base;
  same.lda = 768;  // the packed value, spelled out
  same.alpha = 0.5f;
  EXPECT_EQ(matmul_key(same), key);
  MatmulDesc beta_one = base, beta_half = base;
  beta_one.beta = 1.0f;
  beta_half.beta = 0.5f;
  EXPECT_NE(matmul_key(beta_one), key);
  EXPECT_EQ(matmul_key(beta_one), matmul_key(beta_half));
  std::vector<MatmulDesc> variants(12, base);
  variants[0].m = 129;
  variants[1].n = 769;
  variants[2].k = 769;
  variants[3].trans_a = true;
  variants[4].trans_b = true;
  variants[5].ldd = 776;
  variants[6].batch = 2;
  variants[7].output_dtype = DataType::kFloat32;
  variants[8].bias = true;
  variants[9].activation = MatmulActivation::kRelu;
  variants[10].activation = MatmulActivation::kGelu;
  variants[11].alignment = 256;
  std::vector<std::string> keys{key};
  for (const MatmulDesc& v : variants) keys.push_back(matmul_key(v));
  std::sort(keys.begin(), keys.end());
  EXPECT_TRUE(std::adjacent_find(keys.begin(), keys.end()) == keys.end())
      << "two descs share a key";
}

TEST(MatmulDescTest, KilnActivationsThatCublasLtComputes) {
  bool fits = false;
  EXPECT_EQ(matmul_activation_for(Activation::kNone, 0, 0, false, &fits), MatmulActivation::kNone);
  EXPECT_TRUE(fits);
  EXPECT_EQ(matmul_activation_for(Activation::kRelu, 0, 0, false, &fits), MatmulActivation::kRelu);
  EXPECT_TRUE(fits);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(matmul_activation_for(Activation::kClip, 0, inf, false, &fits),
            MatmulActivation::kRelu);
  EXPECT_TRUE(fits);
  matmul_activation_for(Activation::kClip, 0, 6, false, &fits);  // Relu6
  EXPECT_FALSE(fits);
  EXPECT_EQ(matmul_activation_for(Activation::kGeluTanh, 0, 0, false, &fits),
            MatmulActivation::kGelu);
  EXPECT_TRUE(fits);
  matmul_activation_for(Activation::kGelu, 0, 0, false, &fits);
  EXPECT_FALSE(fits);
  EXPECT_EQ(matmul_activation_for(Activation::kGelu, 0, 0, true, &fits), MatmulActivation::kGelu);
  EXPECT_TRUE(fits);
  for (Activation a : {Activation::kLeakyRelu, Activation::kSigmoid, Activation::kTanh,
                       Activation::kHardSigmoid, Activation::kHardSwish, Activation::kSilu}) {
    matmul_activation_for(a, 0.1f, 0.5f, true, &fits);
    EXPECT_FALSE(fits) << activation_name(a);
  }
}

// --- the column-major mapping, checked without a GPU ---------------------------------------------

// A cuBLASLt matrix layout as its attributes say.
struct LtLayout {
  uint32_t type = 0;
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0;
  int32_t batch = 1;
  int64_t stride = 0;
};

template <typename T>
void read_attribute(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, T* v) {
  size_t written = 0;
  ASSERT_EQ(cublasLtMatrixLayoutGetAttribute(l, attr, v, sizeof(T), &written),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(written, sizeof(T));
}
template <typename T>
void read_attribute(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr, T* v) {
  size_t written = 0;
  ASSERT_EQ(cublasLtMatmulDescGetAttribute(op, attr, v, sizeof(T), &written),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(written, sizeof(T));
}

void read_layout(cublasLtMatrixLayout_t l, LtLayout* out) {
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_TYPE, &out->type);
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_ROWS, &out->rows);
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_COLS, &out->cols);
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_LD, &out->ld);
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &out->batch);
  read_attribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &out->stride);
}

// describe_matmul's descriptors, read back and executed the way cuBLASLt defines them
// (column-major, op() per TRANSA/TRANSB, cuBLASLt's A and B being what the plan passes as A and
// B: kiln's B and A), must compute the row-major product of the header on the same memory.
void check_mapping(const MatmulDesc& desc) {
  SCOPED_TRACE(matmul_key(desc));
  auto plan = describe_matmul(desc);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->has_algo());
  const MatmulDesc d = plan->desc();
  LtLayout la, lb, ld;
  read_layout(plan->lt_layout_a(), &la);
  read_layout(plan->lt_layout_b(), &lb);
  read_layout(plan->lt_layout_d(), &ld);
  int32_t trans_a = -1, trans_b = -1, compute = -1;
  uint32_t epilogue = 0;
  read_attribute(plan->operation(), CUBLASLT_MATMUL_DESC_TRANSA, &trans_a);
  read_attribute(plan->operation(), CUBLASLT_MATMUL_DESC_TRANSB, &trans_b);
  read_attribute(plan->operation(), CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue);
  read_attribute(plan->operation(), CUBLASLT_MATMUL_DESC_COMPUTE_TYPE, &compute);
  if (::testing::Test::HasFatalFailure()) return;

  // Types, compute mode, epilogue.
  const auto cuda_type = [](DataType t) -> uint32_t {
    return t == DataType::kFloat32   ? CUDA_R_32F
           : t == DataType::kFloat16 ? CUDA_R_16F
                                     : CUDA_R_16BF;
  };
  EXPECT_EQ(la.type, cuda_type(d.input_dtype));
  EXPECT_EQ(lb.type, cuda_type(d.input_dtype));
  EXPECT_EQ(ld.type, cuda_type(d.output_dtype));
  EXPECT_EQ(compute,
            d.compute == MatmulCompute::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
  uint32_t want_epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  if (d.activation == MatmulActivation::kRelu) {
    want_epilogue = d.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  } else if (d.activation == MatmulActivation::kGelu) {
    want_epilogue = d.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  } else if (d.bias) {
    want_epilogue = CUBLASLT_EPILOGUE_BIAS;
  }
  EXPECT_EQ(epilogue, want_epilogue);
  if (d.bias) {
    int32_t bias_type = -1;
    read_attribute(plan->operation(), CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type);
    EXPECT_EQ(static_cast<uint32_t>(bias_type), cuda_type(d.output_dtype));
  }
  // Bias runs along cuBLASLt's D rows: that must be kiln's N.
  EXPECT_EQ(ld.rows, static_cast<uint64_t>(d.n));
  for (const LtLayout* l : {&la, &lb, &ld}) EXPECT_EQ(l->batch, d.batch);

  // cuBLASLt's product dims, from its own layouts.
  const bool ta = trans_a == CUBLAS_OP_T, tb = trans_b == CUBLAS_OP_T;
  const uint64_t m_lt = ld.rows, n_lt = ld.cols;
  const uint64_t k_lt = ta ? la.rows : la.cols;
  ASSERT_EQ(ta ? la.cols : la.rows, m_lt);
  ASSERT_EQ(tb ? lb.rows : lb.cols, n_lt);
  ASSERT_EQ(tb ? lb.cols : lb.rows, k_lt);
  for (const LtLayout* l : {&la, &lb, &ld}) ASSERT_GE(static_cast<uint64_t>(l->ld), l->rows);

  // Memory: kiln's A and B with NaN everywhere outside the product's elements.
  const MatmulExtents e = matmul_extents(d);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> mem_a(static_cast<size_t>(e.a), nan), mem_b(static_cast<size_t>(e.b), nan);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  const auto index_a = [&](int64_t b, int64_t i, int64_t kk) {
    return static_cast<size_t>(b * d.batch_stride_a +
                               (d.trans_a ? kk * d.lda + i : i * d.lda + kk));
  };
  const auto index_b = [&](int64_t b, int64_t kk, int64_t j) {
    return static_cast<size_t>(b * d.batch_stride_b +
                               (d.trans_b ? j * d.ldb + kk : kk * d.ldb + j));
  };
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t kk = 0; kk < d.k; ++kk) mem_a[index_a(b, i, kk)] = dist(rng);
    }
    for (int64_t kk = 0; kk < d.k; ++kk) {
      for (int64_t j = 0; j < d.n; ++j) mem_b[index_b(b, kk, j)] = dist(rng);
    }
  }

  // cuBLASLt's definition: D(r, c) = Σ op(A)(r, l) · op(B)(l, c), column-major, A = kiln's B.
  std::vector<double> lt_d(static_cast<size_t>(e.d), nan);
  const std::vector<double>& lt_a = mem_b;
  const std::vector<double>& lt_b = mem_a;
  for (int64_t q = 0; q < d.batch; ++q) {
    for (uint64_t c = 0; c < n_lt; ++c) {
      for (uint64_t r = 0; r < m_lt; ++r) {
        double sum = 0;
        for (uint64_t l = 0; l < k_lt; ++l) {
          const int64_t ia =
              q * la.stride + static_cast<int64_t>(ta ? r * la.ld + l : l * la.ld + r);
          const int64_t ib =
              q * lb.stride + static_cast<int64_t>(tb ? l * lb.ld + c : c * lb.ld + l);
          // cuBLASLt's A is kiln's B (extent e.b), its B kiln's A.
          ASSERT_TRUE(ia >= 0 && ia < e.b && ib >= 0 && ib < e.a) << "outside the operands";
          sum += lt_a[static_cast<size_t>(ia)] * lt_b[static_cast<size_t>(ib)];
        }
        const int64_t id = q * ld.stride + static_cast<int64_t>(c * ld.ld + r);
        ASSERT_TRUE(id >= 0 && id < e.d) << "outside D";
        lt_d[static_cast<size_t>(id)] = sum;
      }
    }
  }
  // The row-major product of the header, element by element; nothing else of D written.
  std::vector<char> in_product(static_cast<size_t>(e.d), 0);
  size_t bad = 0;
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double want = 0;
        for (int64_t kk = 0; kk < d.k; ++kk)
          want += mem_a[index_a(b, i, kk)] * mem_b[index_b(b, kk, j)];
        const size_t id = static_cast<size_t>(b * d.batch_stride_d + i * d.ldd + j);
        in_product[id] = 1;
        if (!(std::abs(lt_d[id] - want) <= 1e-12 * (1 + std::abs(want))) && bad++ < 3) {
          ADD_FAILURE() << "D[" << b << "," << i << "," << j << "] = " << lt_d[id] << ", want "
                        << want;
        }
      }
    }
  }
  size_t stray = 0;
  for (size_t i = 0; i < lt_d.size(); ++i) stray += !in_product[i] && !std::isnan(lt_d[i]);
  EXPECT_EQ(stray, 0u) << "elements of D outside the product written";
}

TEST(MatmulMappingTest, DescriptorsComputeTheRowMajorProduct) {
  for (int t = 0; t < 4; ++t) {
    for (const Mnk& s : {Mnk{1, 1, 1}, Mnk{1, 7, 5}, Mnk{7, 1, 5}, Mnk{5, 7, 1}, Mnk{6, 9, 11}}) {
      MatmulDesc d = make_desc(s.m, s.n, s.k, DataType::kFloat16, DataType::kFloat16);
      d.trans_a = t & 1;
      d.trans_b = t & 2;
      d.alignment = 2;  // odd batch strides below
      check_mapping(d);
      d.batch = 3;  // packed batches
      check_mapping(d);
      d.batch_stride_b = 0;  // broadcast B
      check_mapping(d);
      d.batch_stride_b = kPacked;
      d.batch_stride_a = 0;  // broadcast A
      check_mapping(d);
      // Padded rows and batch gaps.
      d.lda = (d.trans_a ? s.m : s.k) + 3;
      d.ldb = (d.trans_b ? s.k : s.n) + 2;
      d.ldd = s.n + 5;
      d.batch_stride_a = kPacked;
      d.batch_stride_d = s.m * d.ldd + 4;
      check_mapping(d);
    }
  }
  // Dtypes, compute modes and epilogues are carried into the descriptors.
  MatmulDesc d = make_desc(6, 9, 11, DataType::kFloat32, DataType::kFloat32);
  d.compute = MatmulCompute::kTf32;
  check_mapping(d);
  d = make_desc(6, 9, 11, DataType::kBFloat16, DataType::kFloat32);
  for (bool bias : {false, true}) {
    for (MatmulActivation a :
         {MatmulActivation::kNone, MatmulActivation::kRelu, MatmulActivation::kGelu}) {
      d.bias = bias;
      d.activation = a;
      check_mapping(d);
    }
  }
}

TEST(MatmulMappingTest, RunRefusesAPlanWithoutAnAlgorithm) {
  auto plan = describe_matmul(make_desc(8, 8, 8, DataType::kFloat32, DataType::kFloat32));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  alignas(256) static float buffer[256];
  MatmulOperands x{buffer, buffer + 64, nullptr, buffer + 128, nullptr};
  const Status s = run_matmul(nullptr, *plan, x, nullptr, 0, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no algorithm"), std::string::npos) << s.message();
}

AlgoRecord sample_record() {
  AlgoRecord r;
  r.key = matmul_key(make_desc(128, 768, 768, DataType::kFloat16, DataType::kFloat16));
  r.cublaslt_version = 130100;
  for (size_t i = 0; i < r.algo.size(); ++i) r.algo[i] = 0x0123456789abcdefull * (i + 1);
  r.workspace_bytes = 4 << 20;
  r.median_ms = 0.0123f;
  return r;
}

TEST(AlgoRecordTest, RoundTrip) {
  const AlgoRecord r = sample_record();
  const std::string line = serialize_algo_record(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = parse_algo_record(line);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->cublaslt_version, r.cublaslt_version);
  EXPECT_EQ(back->algo, r.algo);
  EXPECT_EQ(back->workspace_bytes, r.workspace_bytes);
  EXPECT_EQ(back->median_ms, r.median_ms);
  AlgoRecord untimed = r;
  untimed.median_ms = -1.0f;
  auto back2 = parse_algo_record(serialize_algo_record(untimed));
  ASSERT_TRUE(back2.ok()) << back2.status().message();
  EXPECT_EQ(back2->median_ms, -1.0f);
}

TEST(AlgoRecordTest, EveryChangedCharacterAndEveryTruncationIsRefused) {
  const std::string line = serialize_algo_record(sample_record());
  for (size_t i = 0; i < line.size(); ++i) {
    std::string damaged = line;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    auto r = parse_algo_record(damaged);
    EXPECT_FALSE(r.ok()) << "a change at " << i << " was not noticed: " << damaged;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    }
  }
  for (size_t n = 0; n < line.size(); ++n) {
    EXPECT_FALSE(parse_algo_record(line.substr(0, n)).ok()) << "truncated to " << n;
  }
  EXPECT_FALSE(parse_algo_record(line + " ").ok());
  EXPECT_FALSE(parse_algo_record("").ok());
}

}  // namespace
}  // namespace kiln::cuda
