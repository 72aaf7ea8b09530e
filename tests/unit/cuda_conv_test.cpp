// kiln::cuda's cuDNN convolutions (src/backends/cuda/libs/cudnn_conv.cpp) against a CPU reference
// in double that follows docs/fused_ops.md's FusedConv: Y = post(act(conv(X, W) + B) + Z), NHWC
// activations, KRSC weights. Inputs are random and non-zero (and exactly representable in the
// dtype, so the reference reads the values the GPU reads), outputs are poisoned (NaN bytes) before
// each run with guard bytes behind them, and every CUDA and cuDNN call is checked.
//
// Covered: ResNet-like 3x3 / 1x1 / 7x7-stride-2 shapes, odd sizes with non-square kernels,
// strides and asymmetric padding, grouped and depthwise convolutions, dilation, float16 /
// bfloat16 / float32 (with and without TF32), bias+Relu and bias+residual+Relu epilogues fused
// into the cuDNN graph, the other activations cuDNN's pointwise ops express, tuning (its choice
// and every candidate it timed compute what the heuristic's plan computes), replaying records
// (same engine, same bits) and refusing records that do not apply.
//
// The tolerance per element is out_eps·(|ref| + |intermediates|) + acc_eps·Σ|x·w| (+|b|, |z|):
// one rounding of the output or of each epilogue step (cuDNN runs the epilogue in float32, kiln's
// unfused ops round after each step), plus the accumulation's error (float32 sums of exact
// products for 16-bit inputs; TF32 products for float32 when allowed), four times that for the
// engines cuDNN marks Winograd or FFT. A wrong layout, index or
// epilogue step is off by about the value itself, orders of magnitude above that.
//
// Without a CUDA device the GPU tests skip; the host-side checks (problem validation, keys,
// records, refused activations) run anywhere.
#include <cuda_runtime.h>
#include <cudnn_graph.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/libs/cudnn_conv.h"
#include "unit/cuda_test_util.h"

namespace kiln::cuda {
namespace {

using ::kiln::test::cuda::DeviceMemory;
using ::kiln::test::cuda::elem_size;
using ::kiln::test::cuda::load_elem;
using ::kiln::test::cuda::store_elem;

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const ::kiln::Status status_ = (expr);                           \
    ASSERT_TRUE(status_.ok()) << #expr << ": " << status_.message(); \
  } while (0)

// A host tensor: its bytes in the dtype and the values those bytes hold.
struct HostTensor {
  std::vector<unsigned char> bytes;
  std::vector<double> values;
};

// n values of magnitude in [0.1, 1]·scale with random signs, rounded to the dtype.
HostTensor random_tensor(DataType t, int64_t n, double scale, std::mt19937& rng) {
  std::uniform_real_distribution<double> mag(0.1, 1.0);
  std::bernoulli_distribution negative(0.5);
  HostTensor h;
  const size_t es = elem_size(t);
  h.bytes.resize(static_cast<size_t>(n) * es);
  h.values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double v = (negative(rng) ? -1 : 1) * mag(rng) * scale;
    unsigned char* dst = h.bytes.data() + static_cast<size_t>(i) * es;
    store_elem(t, static_cast<float>(v), dst);
    h.values[static_cast<size_t>(i)] = load_elem(t, dst);
  }
  return h;
}

struct Inputs {
  HostTensor x, w, b, z;
};

Inputs random_inputs(const ConvProblem& p, uint32_t seed) {
  std::mt19937 rng(seed);
  Inputs in;
  const int64_t fan_in = (p.in_channels / p.groups) * p.kernel_height * p.kernel_width;
  in.x = random_tensor(p.dtype, p.x_elements(), 1.0, rng);
  // Weights scaled so outputs are O(1): the activations then see both of their regimes.
  in.w = random_tensor(p.dtype, p.w_elements(), 2.0 / std::sqrt(static_cast<double>(fan_in)), rng);
  if (p.has_bias) in.b = random_tensor(p.dtype, p.out_channels, 0.5, rng);
  if (p.has_residual) in.z = random_tensor(p.dtype, p.y_elements(), 1.0, rng);
  return in;
}

// The reference output and, per element, the size of its rounding and accumulation errors.
struct Reference {
  std::vector<double> y;
  std::vector<double> intermediate;  // |conv + b| + |act(...)| + |z|
  std::vector<double> magnitude;     // Σ|x·w| + |b| + |z|
};

Reference reference(const ConvProblem& p, const Inputs& in) {
  const int64_t N = p.batch, C = p.in_channels, H = p.in_height, W = p.in_width;
  const int64_t K = p.out_channels, R = p.kernel_height, S = p.kernel_width;
  const int64_t P = p.out_height(), Q = p.out_width();
  const int64_t cg = C / p.groups, kg = K / p.groups;
  Reference ref;
  ref.y.resize(static_cast<size_t>(p.y_elements()));
  ref.intermediate.resize(ref.y.size());
  ref.magnitude.resize(ref.y.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < P; ++oh)
      for (int64_t ow = 0; ow < Q; ++ow)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t g = k / kg;
          double acc = 0, mag = 0;
          for (int64_t r = 0; r < R; ++r) {
            const int64_t ih = oh * p.strides[0] - p.pads_begin[0] + r * p.dilations[0];
            if (ih < 0 || ih >= H) continue;
            for (int64_t s = 0; s < S; ++s) {
              const int64_t iw = ow * p.strides[1] - p.pads_begin[1] + s * p.dilations[1];
              if (iw < 0 || iw >= W) continue;
              const double* xr =
                  &in.x.values[static_cast<size_t>(((n * H + ih) * W + iw) * C + g * cg)];
              const double* wr = &in.w.values[static_cast<size_t>(((k * R + r) * S + s) * cg)];
              for (int64_t c = 0; c < cg; ++c) {
                acc += xr[c] * wr[c];
                mag += std::fabs(xr[c] * wr[c]);
              }
            }
          }
          const size_t i = static_cast<size_t>(((n * P + oh) * Q + ow) * K + k);
          double v = acc;
          if (p.has_bias) {
            v += in.b.values[static_cast<size_t>(k)];
            mag += std::fabs(in.b.values[static_cast<size_t>(k)]);
          }
          double inter = std::fabs(v);
          v = apply_activation(p.activation, v, p.activation_alpha, p.activation_beta);
          inter += std::fabs(v);
          if (p.has_residual) {
            v += in.z.values[i];
            mag += std::fabs(in.z.values[i]);
            inter += std::fabs(in.z.values[i]) + std::fabs(v);
          }
          v = apply_activation(p.post_activation, v, p.post_activation_alpha,
                               p.post_activation_beta);
          ref.y[i] = v;
          ref.intermediate[i] = inter;
          ref.magnitude[i] = mag;
        }
  return ref;
}

struct Tolerance {
  double out_eps;  // one rounding of the output (or of an epilogue step), with slack
  double acc_eps;  // relative to Σ|x·w|
};

Tolerance tolerance_for(const ConvProblem& p) {
  switch (p.dtype) {
    case DataType::kFloat16:
      return {1.0 / 1024, 1e-3};
    case DataType::kBFloat16:
      return {1.0 / 128, 8e-3};
    default:
      return p.allow_tf32 ? Tolerance{1e-6, 4e-3} : Tolerance{1e-6, 2e-5};
  }
}

// Winograd and FFT engines round in their transform domain: a few times the direct method's error
// (cuDNN's numerical notes say which engines do).
double algorithm_slack(const ConvEngineNotes& notes) {
  return notes.winograd || notes.fft ? 4.0 : 1.0;
}

// Every output finite and within the tolerance; reports the first few misses with their place.
void expect_close(const ConvProblem& p, const Reference& ref, const std::vector<float>& got,
                  const std::string& what, double tolerance_scale = 1.0) {
  ASSERT_EQ(got.size(), ref.y.size());
  const Tolerance tol = tolerance_for(p);
  const int64_t K = p.out_channels, Q = p.out_width(), P = p.out_height();
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double allowed =
        tolerance_scale * (tol.out_eps * (std::fabs(ref.y[i]) + ref.intermediate[i]) +
                           1.25 * tol.acc_eps * ref.magnitude[i]) +
        1e-7;
    const double err = std::fabs(static_cast<double>(got[i]) - ref.y[i]);
    const bool ok = std::isfinite(got[i]) && err <= allowed;
    if (std::isfinite(got[i])) worst = std::max(worst, err / allowed);
    if (!ok && bad++ < 5) {
      const int64_t e = static_cast<int64_t>(i);
      ADD_FAILURE() << what << " " << conv_problem_key(p) << ": y[n=" << e / (P * Q * K)
                    << ", h=" << (e / (Q * K)) % P << ", w=" << (e / K) % Q << ", k=" << e % K
                    << "] = " << got[i] << ", reference " << ref.y[i] << " (allowed error "
                    << allowed << ")";
    }
  }
  std::printf("[ ACCURACY ] %s: worst error %.3g of the allowed\n", what.c_str(), worst);
  EXPECT_EQ(bad, 0) << what << " " << conv_problem_key(p) << ": " << bad << " of " << got.size()
                    << " outputs wrong (worst error " << worst << " of the allowed)";
}

enum class Need { kPlan, kPlanOrUnsupported };

class CudaConvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KILN_SKIP_WITHOUT_CUDA_DEVICE();
    const cudnnStatus_t s = cudnnCreate(&handle_);
    ASSERT_EQ(s, CUDNN_STATUS_SUCCESS) << "cudnnCreate: " << cudnnGetErrorString(s);
    KILN_CUDA_ASSERT(cudaStreamCreate(&stream_));
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (handle_ != nullptr) cudnnDestroy(handle_);
  }

  // Uploads the inputs, runs the plan into a poisoned output with guard bytes behind it, checks
  // the guard and returns the outputs as floats.
  void run(const ConvPlan& plan, const Inputs& in, std::vector<float>* y) {
    const ConvProblem& p = plan.problem();
    const size_t es = elem_size(p.dtype);
    const size_t y_bytes = static_cast<size_t>(p.y_elements()) * es;
    constexpr size_t kGuard = 256;
    DeviceMemory dx, dw, db, dz, dy, dws;
    auto upload = [&](DeviceMemory& d, const HostTensor& h) {
      KILN_CUDA_ASSERT(cudaMalloc(&d.ptr, h.bytes.size()));
      KILN_CUDA_ASSERT(cudaMemcpy(d.ptr, h.bytes.data(), h.bytes.size(), cudaMemcpyHostToDevice));
    };
    ASSERT_NO_FATAL_FAILURE(upload(dx, in.x));
    ASSERT_NO_FATAL_FAILURE(upload(dw, in.w));
    if (p.has_bias) {
      ASSERT_NO_FATAL_FAILURE(upload(db, in.b));
    }
    if (p.has_residual) {
      ASSERT_NO_FATAL_FAILURE(upload(dz, in.z));
    }
    KILN_CUDA_ASSERT(cudaMalloc(&dy.ptr, y_bytes + kGuard));
    KILN_CUDA_ASSERT(cudaMemset(dy.ptr, 0xff, y_bytes + kGuard));
    if (plan.workspace_bytes() > 0) KILN_CUDA_ASSERT(cudaMalloc(&dws.ptr, plan.workspace_bytes()));
    ConvArgs args;
    args.x = dx.ptr;
    args.w = dw.ptr;
    args.bias = db.ptr;
    args.z = dz.ptr;
    args.y = dy.ptr;
    ASSERT_OK(plan.execute(handle_, stream_, args, dws.ptr));
    KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));
    KILN_CUDA_ASSERT(cudaGetLastError());
    std::vector<unsigned char> host(y_bytes + kGuard);
    KILN_CUDA_ASSERT(cudaMemcpy(host.data(), dy.ptr, host.size(), cudaMemcpyDeviceToHost));
    for (size_t i = y_bytes; i < host.size(); ++i)
      ASSERT_EQ(host[i], 0xff) << "guard byte " << i - y_bytes << " after y overwritten by "
                               << plan.describe();
    y->resize(static_cast<size_t>(p.y_elements()));
    for (size_t i = 0; i < y->size(); ++i) (*y)[i] = load_elem(p.dtype, host.data() + i * es);
  }

  // Plans the problem heuristically, runs it on random inputs and compares with the reference.
  // kPlanOrUnsupported accepts cuDNN having no engine (kUnsupported, reported), nothing else.
  void check(const ConvProblem& p, Need need, uint32_t seed = 1) {
    SCOPED_TRACE(conv_problem_key(p));
    Result<ConvPlan> plan = make_conv_plan(handle_, p);
    if (!plan.ok() && need == Need::kPlanOrUnsupported &&
        plan.status().code() == StatusCode::kUnsupported) {
      std::printf("[   NOTE   ] not supported, the caller splits: %s\n",
                  plan.status().message().c_str());
      return;
    }
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    std::printf("[   PLAN   ] %s: %s\n", conv_problem_key(p).c_str(), plan->describe().c_str());
    if (p.dtype == DataType::kFloat32 && !p.allow_tf32) {
      EXPECT_FALSE(plan->notes().tensor_cores) << plan->describe();
      EXPECT_FALSE(plan->notes().down_converts_inputs) << plan->describe();
    }
    EXPECT_FALSE(plan->notes().reduced_precision_reduction) << plan->describe();
    const Inputs in = random_inputs(p, seed);
    const Reference ref = reference(p, in);
    std::vector<float> y;
    ASSERT_NO_FATAL_FAILURE(run(*plan, in, &y));
    expect_close(p, ref, y, "heuristic plan", algorithm_slack(plan->notes()));
  }

  cudnnHandle_t handle_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

ConvProblem conv(DataType t, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r,
                 int64_t s, int64_t stride = 1, int64_t pad = 0, int64_t groups = 1,
                 int64_t dilation = 1) {
  ConvProblem p;
  p.dtype = t;
  p.batch = n;
  p.in_channels = c;
  p.in_height = h;
  p.in_width = w;
  p.out_channels = k;
  p.kernel_height = r;
  p.kernel_width = s;
  p.groups = groups;
  p.strides = {stride, stride};
  p.dilations = {dilation, dilation};
  p.pads_begin = {pad, pad};
  p.pads_end = {pad, pad};
  p.allow_tf32 = false;  // the strict float32 bound catches more; TF32 has its own case
  return p;
}

ConvProblem with_bias_act(ConvProblem p, Activation a, float alpha = 0, float beta = 0) {
  p.has_bias = true;
  p.activation = a;
  p.activation_alpha = alpha;
  p.activation_beta = beta;
  return p;
}

constexpr DataType kF32 = DataType::kFloat32, kF16 = DataType::kFloat16,
                   kBF16 = DataType::kBFloat16;

// ---- plain convolutions: every one must have an engine ----------------------------------------

TEST_F(CudaConvTest, ResNet3x3) {
  for (DataType t : {kF16, kBF16, kF32}) check(conv(t, 2, 64, 14, 14, 64, 3, 3, 1, 1), Need::kPlan);
}

TEST_F(CudaConvTest, ResNet1x1) {
  for (DataType t : {kF16, kBF16, kF32}) check(conv(t, 2, 64, 9, 9, 128, 1, 1), Need::kPlan);
  check(conv(kF16, 1, 256, 8, 8, 64, 1, 1, 2, 0), Need::kPlan);  // downsampling 1x1, stride 2
}

TEST_F(CudaConvTest, Stem7x7Stride2) {
  // ResNet's first layer: 3 input channels, 7x7, stride 2, pad 3 (on a smaller, non-square image).
  for (DataType t : {kF16, kF32}) check(conv(t, 1, 3, 40, 36, 64, 7, 7, 2, 3), Need::kPlan);
}

TEST_F(CudaConvTest, OddSizesAndStrides) {
  for (DataType t : {kF32, kF16, kBF16}) {
    ConvProblem p = conv(t, 3, 5, 13, 11, 7, 3, 2);
    p.strides = {2, 1};
    p.pads_begin = {1, 1};
    p.pads_end = {1, 1};
    check(p, Need::kPlan);
  }
}

// cuDNN's graph API takes pre and post paddings separately, but not every engine does: where none
// does, the backend pads explicitly (reported here, not hidden).
TEST_F(CudaConvTest, AsymmetricPadding) {
  for (DataType t : {kF32, kF16, kBF16}) {
    ConvProblem p = conv(t, 3, 5, 13, 11, 7, 3, 2);
    p.strides = {2, 1};
    p.pads_begin = {0, 1};
    p.pads_end = {1, 2};
    check(p, Need::kPlanOrUnsupported);
    ConvProblem q = conv(t, 2, 16, 12, 12, 16, 3, 3, 2);  // TF "SAME" at stride 2: pad after only
    q.pads_end = {1, 1};
    check(q, Need::kPlanOrUnsupported);
  }
}

TEST_F(CudaConvTest, Grouped) {
  for (DataType t : {kF16, kF32}) check(conv(t, 2, 32, 10, 10, 64, 3, 3, 1, 1, 4), Need::kPlan);
  check(conv(kBF16, 1, 48, 7, 9, 24, 1, 1, 1, 0, 3), Need::kPlan);
}

TEST_F(CudaConvTest, Depthwise) {
  check(conv(kF16, 2, 32, 12, 12, 32, 3, 3, 1, 1, 32), Need::kPlan);
  check(conv(kBF16, 1, 32, 15, 15, 32, 3, 3, 2, 1, 32), Need::kPlan);
  check(conv(kF32, 1, 16, 11, 11, 16, 5, 5, 1, 2, 16), Need::kPlan);
  check(conv(kF16, 1, 16, 9, 9, 32, 3, 3, 1, 1, 16), Need::kPlan);  // channel multiplier 2
}

TEST_F(CudaConvTest, Dilation) {
  for (DataType t : {kF16, kF32}) check(conv(t, 1, 16, 15, 15, 24, 3, 3, 1, 2, 1, 2), Need::kPlan);
  ConvProblem p = conv(kF16, 2, 8, 10, 17, 8, 3, 3, 1, 0);
  p.dilations = {1, 3};
  p.pads_begin = {1, 3};
  p.pads_end = {1, 3};
  check(p, Need::kPlan);
}

TEST_F(CudaConvTest, Float32WithTf32) {
  ConvProblem p = conv(kF32, 2, 64, 14, 14, 64, 3, 3, 1, 1);
  p.allow_tf32 = true;
  check(p, Need::kPlan);
}

// ---- fused epilogues --------------------------------------------------------------------------

TEST_F(CudaConvTest, BiasRelu) {
  // ResNet's conv+BN+Relu in float16 is what the runtime-fusion engines exist for.
  check(with_bias_act(conv(kF16, 2, 64, 14, 14, 64, 3, 3, 1, 1), Activation::kRelu), Need::kPlan);
  check(with_bias_act(conv(kF16, 2, 64, 9, 9, 128, 1, 1), Activation::kRelu), Need::kPlan);
  for (DataType t : {kBF16, kF32})
    check(with_bias_act(conv(t, 2, 64, 14, 14, 64, 3, 3, 1, 1), Activation::kRelu),
          Need::kPlanOrUnsupported);
  // Odd channel counts and depthwise: fused where cuDNN can, reported where not.
  check(with_bias_act(conv(kF16, 1, 5, 9, 9, 7, 3, 3, 1, 1), Activation::kRelu),
        Need::kPlanOrUnsupported);
  check(with_bias_act(conv(kF16, 1, 32, 12, 12, 32, 3, 3, 1, 1, 32), Activation::kRelu),
        Need::kPlanOrUnsupported);
}

TEST_F(CudaConvTest, BiasResidualRelu) {
  // The end of a ResNet bottleneck: 1x1 conv + BN, + shortcut, Relu.
  ConvProblem p = conv(kF16, 2, 64, 14, 14, 256, 1, 1);
  p.has_bias = true;
  p.has_residual = true;
  p.post_activation = Activation::kRelu;
  check(p, Need::kPlan);
  // Both activations, and no bias.
  ConvProblem q = with_bias_act(conv(kF16, 1, 64, 10, 10, 64, 3, 3, 1, 1), Activation::kRelu);
  q.has_residual = true;
  q.post_activation = Activation::kRelu;
  check(q, Need::kPlanOrUnsupported);
  ConvProblem r = conv(kF16, 1, 64, 10, 10, 64, 3, 3, 1, 1);
  r.has_residual = true;
  check(r, Need::kPlanOrUnsupported);
  for (DataType t : {kBF16, kF32}) {
    ConvProblem s = p;
    s.dtype = t;
    check(s, Need::kPlanOrUnsupported);
  }
}

TEST_F(CudaConvTest, OtherActivations) {
  const ConvProblem base = conv(kF16, 1, 32, 8, 8, 32, 3, 3, 1, 1);
  check(with_bias_act(base, Activation::kLeakyRelu, 0.1f), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kClip, -0.5f, 0.75f), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kClip, 0.f, 6.f), Need::kPlanOrUnsupported);  // Relu6
  check(with_bias_act(base, Activation::kSigmoid), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kTanh), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kSilu), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kGelu), Need::kPlanOrUnsupported);
  check(with_bias_act(base, Activation::kGeluTanh), Need::kPlanOrUnsupported);
  ConvProblem f32 = with_bias_act(base, Activation::kSigmoid);
  f32.dtype = kF32;
  check(f32, Need::kPlanOrUnsupported);
}

// ---- tuning and records -----------------------------------------------------------------------

TEST_F(CudaConvTest, TuneMatchesHeuristicAndReplays) {
  const ConvProblem p = with_bias_act(conv(kF16, 2, 64, 14, 14, 64, 3, 3, 1, 1), Activation::kRelu);
  const Inputs in = random_inputs(p, 7);
  const Reference ref = reference(p, in);

  Result<ConvPlan> heuristic = make_conv_plan(handle_, p);
  ASSERT_TRUE(heuristic.ok()) << heuristic.status().message();
  std::vector<float> y_heuristic;
  ASSERT_NO_FATAL_FAILURE(run(*heuristic, in, &y_heuristic));
  expect_close(p, ref, y_heuristic, "heuristic plan", algorithm_slack(heuristic->notes()));

  ConvTuneOptions options;
  options.max_candidates = 4;
  options.warmup_runs = 2;
  options.timed_runs = 5;
  Result<ConvTuneResult> tuned = tune_conv_plan(handle_, p, stream_, options);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  const auto& timings = tuned->timings;
  ASSERT_GE(tuned->best_index, 0);
  ASSERT_LT(static_cast<size_t>(tuned->best_index), timings.size());
  const ConvCandidateTiming& best = timings[static_cast<size_t>(tuned->best_index)];
  EXPECT_EQ(best.record, tuned->best.record());
  EXPECT_GT(best.median_ms, 0);
  EXPECT_LE(best.min_ms, best.median_ms);
  int ran = 0;
  for (const ConvCandidateTiming& t : timings) {
    std::printf("[  TIMING  ] engine %lld knobs %zu (%s): %s\n",
                static_cast<long long>(t.record.engine_id), t.record.knobs.size(),
                t.notes.to_string().c_str(),
                t.median_ms >= 0 ? (std::to_string(t.median_ms) + " ms").c_str()
                                 : t.status.message().c_str());
    if (t.median_ms < 0) continue;
    ++ran;
    EXPECT_LE(best.median_ms, t.median_ms);
    EXPECT_EQ(t.record.problem_key, conv_problem_key(p));
  }
  EXPECT_GE(ran, 1);
  EXPECT_LE(ran, options.max_candidates);

  // The tuned plan computes what the heuristic's computes (both against the reference, and
  // against each other within the two tolerances).
  std::vector<float> y_tuned;
  ASSERT_NO_FATAL_FAILURE(run(tuned->best, in, &y_tuned));
  expect_close(p, ref, y_tuned, "tuned plan", algorithm_slack(tuned->best.notes()));
  Reference against_heuristic = ref;
  for (size_t i = 0; i < ref.y.size(); ++i) against_heuristic.y[i] = y_heuristic[i];
  expect_close(p, against_heuristic, y_tuned, "tuned vs heuristic",
               algorithm_slack(heuristic->notes()) + algorithm_slack(tuned->best.notes()));

  // Replaying the record gives the same engine configuration and the same bits.
  const std::string text = tuned->best.record().to_string();
  Result<ConvPlan> replayed = replay_conv_plan(handle_, p, text);
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_EQ(replayed->record(), tuned->best.record());
  EXPECT_EQ(replayed->workspace_bytes(), tuned->best.workspace_bytes());
  std::vector<float> y_replayed;
  ASSERT_NO_FATAL_FAILURE(run(*replayed, in, &y_replayed));
  if (!replayed->notes().nondeterministic) {
    int64_t differ = 0;
    for (size_t i = 0; i < y_tuned.size(); ++i)
      differ += std::memcmp(&y_tuned[i], &y_replayed[i], sizeof(float)) != 0;
    EXPECT_EQ(differ, 0) << "replayed plan " << replayed->describe()
                         << " differs from the tuned one";
  } else {
    expect_close(p, ref, y_replayed, "replayed plan", algorithm_slack(replayed->notes()));
  }

  // Every candidate the tuner ran, rebuilt from its record, is correct too.
  for (const ConvCandidateTiming& t : timings) {
    if (t.median_ms < 0) continue;
    Result<ConvPlan> candidate = replay_conv_plan(handle_, p, t.record);
    ASSERT_TRUE(candidate.ok()) << candidate.status().message();
    std::vector<float> y;
    ASSERT_NO_FATAL_FAILURE(run(*candidate, in, &y));
    expect_close(p, ref, y, "candidate engine " + std::to_string(t.record.engine_id),
                 algorithm_slack(candidate->notes()));
  }
}

TEST_F(CudaConvTest, TuneFloat32WithoutTf32AvoidsTensorCores) {
  const ConvProblem p = conv(kF32, 1, 32, 12, 12, 32, 3, 3, 1, 1);
  ConvTuneOptions options;
  options.max_candidates = 3;
  options.timed_runs = 3;
  Result<ConvTuneResult> tuned = tune_conv_plan(handle_, p, stream_, options);
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  for (const ConvCandidateTiming& t : tuned->timings) {
    if (t.median_ms < 0) continue;
    EXPECT_FALSE(t.notes.tensor_cores) << "engine " << t.record.engine_id;
    EXPECT_FALSE(t.notes.down_converts_inputs) << "engine " << t.record.engine_id;
  }
  const Inputs in = random_inputs(p, 3);
  std::vector<float> y;
  ASSERT_NO_FATAL_FAILURE(run(tuned->best, in, &y));
  expect_close(p, reference(p, in), y, "tuned float32 plan", algorithm_slack(tuned->best.notes()));
}

TEST_F(CudaConvTest, ReplayRefusesRecordsThatDoNotApply) {
  const ConvProblem p = conv(kF16, 1, 32, 8, 8, 32, 3, 3, 1, 1);
  Result<ConvPlan> plan = make_conv_plan(handle_, p);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const ConvPlanRecord good = plan->record();
  EXPECT_EQ(good.cudnn_version, cudnn_runtime_version());
  EXPECT_EQ(good.problem_key, conv_problem_key(p));
  ASSERT_TRUE(replay_conv_plan(handle_, p, good.to_string()).ok());

  // A damaged line: every position changed in turn fails the check.
  const std::string text = good.to_string();
  for (size_t i = 0; i < text.size(); ++i) {
    std::string damaged = text;
    damaged[i] = damaged[i] == '7' ? '8' : '7';
    Result<ConvPlan> r = replay_conv_plan(handle_, p, damaged);
    ASSERT_FALSE(r.ok()) << "damaged at " << i << ": " << damaged;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().message();
  }

  // Another problem's record.
  ConvProblem other = p;
  other.out_channels = 64;
  Result<ConvPlan> r = replay_conv_plan(handle_, other, good);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();

  // Another cuDNN, another GPU.
  ConvPlanRecord version = good;
  version.cudnn_version += 1;
  r = replay_conv_plan(handle_, p, version.to_string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible) << r.status().message();
  EXPECT_NE(r.status().message().find("cuDNN"), std::string::npos) << r.status().message();
  ConvPlanRecord gpu = good;
  gpu.compute_capability = good.compute_capability == 80 ? 86 : 80;
  r = replay_conv_plan(handle_, p, gpu.to_string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible) << r.status().message();

  // Well-formed records whose engine configuration cuDNN does not take for this graph.
  ConvPlanRecord engine = good;
  engine.engine_id = 1000000;
  r = replay_conv_plan(handle_, p, engine.to_string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible) << r.status().message();
  EXPECT_NE(r.status().message().find("no longer takes"), std::string::npos)
      << r.status().message();
  ConvPlanRecord knob = good;
  knob.knobs.emplace_back(CUDNN_KNOB_TYPE_COUNTS + 7, 1);
  r = replay_conv_plan(handle_, p, knob.to_string());
  ASSERT_FALSE(r.ok()) << "cuDNN accepted a knob type it does not have: a record's knob list is "
                          "not validated on replay";
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible) << r.status().message();
}

TEST_F(CudaConvTest, ExecuteRefusesBadArguments) {
  const ConvProblem p = with_bias_act(conv(kF16, 1, 16, 8, 8, 16, 3, 3, 1, 1), Activation::kNone);
  Result<ConvPlan> plan = make_conv_plan(handle_, p);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  DeviceMemory buffer;
  const size_t bytes = 1 << 20;
  KILN_CUDA_ASSERT(cudaMalloc(&buffer.ptr, bytes));
  char* base = static_cast<char*>(buffer.ptr);
  DeviceMemory workspace;
  if (plan->workspace_bytes() > 0)
    KILN_CUDA_ASSERT(cudaMalloc(&workspace.ptr, plan->workspace_bytes()));
  ConvArgs good;
  good.x = base;
  good.w = base + 65536;
  good.bias = base + 131072;
  good.y = base + 196608;
  ASSERT_OK(plan->execute(handle_, stream_, good, workspace.ptr));
  KILN_CUDA_ASSERT(cudaStreamSynchronize(stream_));

  auto refused = [&](ConvArgs a, void* ws, const char* what) {
    const Status s = plan->execute(handle_, stream_, a, ws);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what << ": " << s.message();
  };
  ConvArgs a = good;
  a.x = nullptr;
  refused(a, workspace.ptr, "null x");
  a = good;
  a.bias = nullptr;
  refused(a, workspace.ptr, "null bias of a problem with a bias");
  a = good;
  a.y = base + 196608 + 2;
  refused(a, workspace.ptr, "misaligned y");
  a = good;
  a.y = base + 64;  // inside x
  refused(a, workspace.ptr, "y overlapping x");
  if (plan->workspace_bytes() > 0) refused(good, nullptr, "missing workspace");
  EXPECT_EQ(plan->execute(nullptr, stream_, good, workspace.ptr).code(),
            StatusCode::kInvalidArgument);
}

// ---- host-side: no device needed --------------------------------------------------------------

TEST(CudaConvHost, LoadsCudnn9) { EXPECT_EQ(cudnn_runtime_version() / 10000, 9); }

TEST(CudaConvHost, OutputExtents) {
  ConvProblem p = conv(kF16, 1, 3, 224, 224, 64, 7, 7, 2, 3);
  EXPECT_EQ(p.out_height(), 112);
  EXPECT_EQ(p.out_width(), 112);
  p = conv(kF16, 3, 5, 13, 11, 7, 3, 2);
  p.strides = {2, 1};
  p.pads_begin = {0, 1};
  p.pads_end = {1, 2};
  EXPECT_EQ(p.out_height(), 6);  // (13 + 1 - 3) / 2 + 1
  EXPECT_EQ(p.out_width(), 13);  // (11 + 3 - 2) / 1 + 1
  p = conv(kF16, 1, 16, 15, 15, 24, 3, 3, 1, 2, 1, 2);
  EXPECT_EQ(p.out_height(), 15);  // (15 + 4 - 5) + 1
  EXPECT_DOUBLE_EQ(conv(kF16, 2, 64, 14, 14, 64, 3, 3, 1, 1).macs(), 2.0 * 14 * 14 * 64 * 64 * 9);
  EXPECT_DOUBLE_EQ(conv(kF16, 1, 32, 8, 8, 32, 3, 3, 1, 1, 32).macs(), 8.0 * 8 * 32 * 9);
}

TEST(CudaConvHost, ProblemValidation) {
  EXPECT_TRUE(check_conv_problem(conv(kF16, 1, 8, 8, 8, 8, 3, 3, 1, 1)).ok());
  EXPECT_EQ(check_conv_problem(conv(DataType::kFloat64, 1, 8, 8, 8, 8, 3, 3)).code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(check_conv_problem(conv(kF16, 1, 6, 8, 8, 8, 3, 3, 1, 1, 4)).code(),
            StatusCode::kInvalidArgument);  // 4 groups do not divide 6 channels
  EXPECT_EQ(check_conv_problem(conv(kF16, 1, 8, 2, 2, 8, 3, 3)).code(),
            StatusCode::kInvalidArgument);  // kernel larger than the input
  EXPECT_EQ(check_conv_problem(conv(kF16, 0, 8, 8, 8, 8, 3, 3)).code(),
            StatusCode::kInvalidArgument);
  ConvProblem p = conv(kF16, 1, 8, 8, 8, 8, 3, 3);
  p.pads_end = {-1, 0};
  EXPECT_EQ(check_conv_problem(p).code(), StatusCode::kInvalidArgument);
  p = conv(kF16, 1, 8, 8, 8, 8, 3, 3);
  p.dilations = {0, 1};
  EXPECT_EQ(check_conv_problem(p).code(), StatusCode::kInvalidArgument);
}

TEST(CudaConvHost, ActivationsCudnnCannotExpressAreUnsupported) {
  const ConvProblem base = conv(kF16, 1, 8, 8, 8, 8, 3, 3, 1, 1);
  for (Activation a : {Activation::kHardSwish, Activation::kHardSigmoid}) {
    ConvProblem p = with_bias_act(base, a, 0.2f, 0.5f);
    const Status s = check_conv_problem(p);
    EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
    EXPECT_NE(s.message().find("kiln's pointwise kernels"), std::string::npos) << s.message();
    // Planning refuses it before touching cuDNN or the device.
    Result<ConvPlan> plan = make_conv_plan(nullptr, p);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kUnsupported);
    p = base;
    p.has_residual = true;
    p.post_activation = a;
    EXPECT_EQ(check_conv_problem(p).code(), StatusCode::kUnsupported);
  }
  EXPECT_EQ(check_conv_problem(with_bias_act(base, Activation::kClip, 1.f, 0.f)).code(),
            StatusCode::kUnsupported);  // min > max
  for (Activation a :
       {Activation::kRelu, Activation::kLeakyRelu, Activation::kSigmoid, Activation::kTanh,
        Activation::kSilu, Activation::kGelu, Activation::kGeluTanh})
    EXPECT_TRUE(check_conv_problem(with_bias_act(base, a, 0.1f)).ok());
  EXPECT_TRUE(check_conv_problem(with_bias_act(base, Activation::kClip, -INFINITY, INFINITY)).ok());
}

// cuDNN's own host-side checks of every descriptor the GPU tests' graphs are made of (shapes,
// strides, group inference, asymmetric padding, each pointwise mode and its parameters).
TEST(CudaConvHost, CudnnAcceptsTheGraphDescriptors) {
  std::vector<ConvProblem> shapes = {
      conv(kF16, 2, 64, 14, 14, 64, 3, 3, 1, 1),       conv(kF16, 1, 256, 8, 8, 64, 1, 1, 2, 0),
      conv(kF16, 1, 3, 40, 36, 64, 7, 7, 2, 3),        conv(kF16, 2, 32, 10, 10, 64, 3, 3, 1, 1, 4),
      conv(kF16, 1, 32, 15, 15, 32, 3, 3, 2, 1, 32),   conv(kF16, 1, 16, 9, 9, 32, 3, 3, 1, 1, 16),
      conv(kF16, 1, 16, 15, 15, 24, 3, 3, 1, 2, 1, 2),
  };
  ConvProblem odd = conv(kF16, 3, 5, 13, 11, 7, 3, 2);
  odd.strides = {2, 1};
  odd.pads_begin = {0, 1};
  odd.pads_end = {1, 2};
  odd.dilations = {1, 3};
  shapes.push_back(odd);
  int validated = 0;
  for (DataType t : {kF16, kBF16, kF32})
    for (const ConvProblem& shape : shapes) {
      ConvProblem p = shape;
      p.dtype = t;
      std::vector<ConvProblem> variants = {p};
      for (Activation a : {Activation::kNone, Activation::kRelu, Activation::kLeakyRelu,
                           Activation::kClip, Activation::kSigmoid, Activation::kTanh,
                           Activation::kSilu, Activation::kGelu, Activation::kGeluTanh}) {
        ConvProblem v = with_bias_act(p, a, a == Activation::kClip ? -1.f : 0.1f, 6.f);
        variants.push_back(v);
        v.has_residual = true;
        v.post_activation = a == Activation::kNone ? Activation::kRelu : a;
        v.post_activation_alpha = v.activation_alpha;
        v.post_activation_beta = v.activation_beta;
        variants.push_back(v);
      }
      for (const ConvProblem& v : variants) {
        const Status s = validate_conv_graph(v);
        EXPECT_TRUE(s.ok()) << conv_problem_key(v) << ": " << s.message();
        ++validated;
      }
    }
  EXPECT_EQ(validated, 3 * 8 * 19);
  // What cuDNN cannot express is refused before any descriptor is made.
  EXPECT_EQ(validate_conv_graph(with_bias_act(shapes[0], Activation::kHardSwish)).code(),
            StatusCode::kUnsupported);
}

TEST(CudaConvHost, ProblemKeysNameEveryField) {
  const ConvProblem base =
      with_bias_act(conv(kF32, 2, 8, 9, 10, 16, 3, 3, 1, 1), Activation::kRelu);
  EXPECT_EQ(conv_problem_key(base),
            "float32,n2,c8,h9,w10,k16,r3,s3,g1,st1x1,dl1x1,pb1x1,pe1x1,notf32,bias,act=Relu(0;0)");
  EXPECT_EQ(conv_problem_key(base).find(' '), std::string::npos);
  std::vector<ConvProblem> variants(15, base);
  variants[0].dtype = kF16;
  variants[1].allow_tf32 = true;
  variants[2].pads_begin = {1, 0};
  variants[3].pads_end = {0, 1};
  variants[4].strides = {2, 1};
  variants[5].dilations = {1, 2};
  variants[6].groups = 2;
  variants[7].has_bias = false;
  variants[8].activation_alpha = 0.5f;
  variants[9].has_residual = true;
  variants[10].post_activation = Activation::kRelu;
  variants[11].activation = Activation::kGelu;
  variants[12].in_height = 10;
  variants[13].out_channels = 8;
  variants[14].kernel_width = 1;
  std::vector<std::string> keys = {conv_problem_key(base)};
  for (const ConvProblem& v : variants) keys.push_back(conv_problem_key(v));
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

TEST(CudaConvHost, RecordRoundTripAndDamage) {
  ConvPlanRecord r;
  r.cudnn_version = 91400;
  r.compute_capability = 90;
  r.problem_key = conv_problem_key(conv(kF16, 1, 8, 8, 8, 8, 3, 3, 1, 1));
  r.engine_id = 12;
  r.knobs = {{2, 5}, {14, 3}, {24, -1}};
  const std::string text = r.to_string();
  EXPECT_EQ(
      text.rfind("kiln-cudnn-conv/1 cudnn=91400 sm=90 engine=12 knobs=2:5,14:3,24:-1 problem=", 0),
      0u)
      << text;
  Result<ConvPlanRecord> back = ConvPlanRecord::parse(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, r);

  ConvPlanRecord no_knobs = r;
  no_knobs.knobs.clear();
  back = ConvPlanRecord::parse(no_knobs.to_string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, no_knobs);

  // Any one changed byte, a truncation, or extra text is refused as corrupt.
  for (size_t i = 0; i < text.size(); ++i) {
    std::string damaged = text;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    Result<ConvPlanRecord> d = ConvPlanRecord::parse(damaged);
    ASSERT_FALSE(d.ok()) << "accepted a change at " << i << ": " << damaged;
    EXPECT_EQ(d.status().code(), StatusCode::kCorrupt);
  }
  for (const std::string& damaged :
       {text.substr(0, text.size() - 1), text + " ", text + "\n", std::string(), std::string("x"),
        text.substr(0, text.find(" check="))}) {
    Result<ConvPlanRecord> d = ConvPlanRecord::parse(damaged);
    EXPECT_FALSE(d.ok()) << damaged;
    EXPECT_EQ(d.status().code(), StatusCode::kCorrupt) << damaged;
  }
}

}  // namespace
}  // namespace kiln::cuda
