// Times kiln::cuda's cuDNN convolutions (src/backends/cuda/libs/cudnn_conv.cpp) on ResNet-50's 53
// convolutions (torchvision v1.5: stride on the 3x3; 224x224 input), float16 NHWC, each with the
// epilogue the optimizer fuses into it (BN folded into bias; Relu; the shortcut add + Relu on the
// last 1x1 of each block; bias only on the downsampling 1x1s). Not part of the build or CI; on
// the GPU machine, from the repo root (one command line; add -L/-I for a cuDNN elsewhere):
//
//   g++ -std=c++20 -O2 -Iinclude -Isrc -I/usr/local/cuda/include bench/cuda/conv_bench.cpp
//       src/backends/cuda/libs/cudnn_conv.cpp -L/usr/local/cuda/lib64 -lcudnn -lcudart
//       -o conv_bench
//   ./conv_bench              # batch 1 and 256
//   ./conv_bench 256 50       # one batch size, 50 timed runs per layer
//
// Per layer: the heuristic's plan and the tuned plan (8 candidates timed) are each timed the same
// way: 10 warm-up runs, then N runs queued back to back with a CUDA event between each two; the
// median interval counts. Prints ms and TFLOP/s (2 flops per multiply-add) per layer, the
// network's sum weighted by how often each shape occurs, and the tuning time. A fused graph
// cuDNN has no engine for is planned with fewer epilogue steps (marked), as the backend would.
// Inputs are random float16 values; outputs are not checked here (cuda_conv_test does that).
#include <cuda_runtime.h>
#include <cudnn_graph.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/libs/cudnn_conv.h"
#include "bench_util.h"
#include "core/float16.h"

namespace {

using kiln::Activation;
using kiln::DataType;
using kiln::cuda::ConvArgs;
using kiln::cuda::ConvPlan;
using kiln::cuda::ConvProblem;

#define CHECK_OK(expr)                                                               \
  do {                                                                               \
    const ::kiln::Status s_ = (expr);                                                \
    if (!s_.ok()) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, s_.message().c_str()); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

enum class Epilogue { kBiasRelu, kBiasResidualRelu, kBias };

struct Layer {
  const char* name;
  int64_t c, hw, k, kernel, stride;
  int count;  // occurrences in the network (0: shown, not summed)
  Epilogue epilogue;
};

// ResNet-50's convolutions by shape: input channels, input size, output channels, kernel, stride.
const Layer kLayers[] = {
    {"conv1", 3, 224, 64, 7, 2, 1, Epilogue::kBiasRelu},
    {"conv1 (C padded to 8)", 8, 224, 64, 7, 2, 0, Epilogue::kBiasRelu},
    {"layer1.0.conv1", 64, 56, 64, 1, 1, 1, Epilogue::kBiasRelu},
    {"layer1.x.conv1", 256, 56, 64, 1, 1, 2, Epilogue::kBiasRelu},
    {"layer1.conv2", 64, 56, 64, 3, 1, 3, Epilogue::kBiasRelu},
    {"layer1.conv3", 64, 56, 256, 1, 1, 3, Epilogue::kBiasResidualRelu},
    {"layer1.downsample", 64, 56, 256, 1, 1, 1, Epilogue::kBias},
    {"layer2.0.conv1", 256, 56, 128, 1, 1, 1, Epilogue::kBiasRelu},
    {"layer2.0.conv2", 128, 56, 128, 3, 2, 1, Epilogue::kBiasRelu},
    {"layer2.x.conv1", 512, 28, 128, 1, 1, 3, Epilogue::kBiasRelu},
    {"layer2.x.conv2", 128, 28, 128, 3, 1, 3, Epilogue::kBiasRelu},
    {"layer2.conv3", 128, 28, 512, 1, 1, 4, Epilogue::kBiasResidualRelu},
    {"layer2.downsample", 256, 56, 512, 1, 2, 1, Epilogue::kBias},
    {"layer3.0.conv1", 512, 28, 256, 1, 1, 1, Epilogue::kBiasRelu},
    {"layer3.0.conv2", 256, 28, 256, 3, 2, 1, Epilogue::kBiasRelu},
    {"layer3.x.conv1", 1024, 14, 256, 1, 1, 5, Epilogue::kBiasRelu},
    {"layer3.x.conv2", 256, 14, 256, 3, 1, 5, Epilogue::kBiasRelu},
    {"layer3.conv3", 256, 14, 1024, 1, 1, 6, Epilogue::kBiasResidualRelu},
    {"layer3.downsample", 512, 28, 1024, 1, 2, 1, Epilogue::kBias},
    {"layer4.0.conv1", 1024, 14, 512, 1, 1, 1, Epilogue::kBiasRelu},
    {"layer4.0.conv2", 512, 14, 512, 3, 2, 1, Epilogue::kBiasRelu},
    {"layer4.x.conv1", 2048, 7, 512, 1, 1, 2, Epilogue::kBiasRelu},
    {"layer4.x.conv2", 512, 7, 512, 3, 1, 2, Epilogue::kBiasRelu},
    {"layer4.conv3", 512, 7, 2048, 1, 1, 3, Epilogue::kBiasResidualRelu},
    {"layer4.downsample", 1024, 14, 2048, 1, 2, 1, Epilogue::kBias},
};

ConvProblem problem_of(const Layer& l, int64_t batch) {
  ConvProblem p;
  p.dtype = DataType::kFloat16;
  p.batch = batch;
  p.in_channels = l.c;
  p.in_height = p.in_width = l.hw;
  p.out_channels = l.k;
  p.kernel_height = p.kernel_width = l.kernel;
  p.strides = {l.stride, l.stride};
  const int64_t pad = l.kernel / 2;
  p.pads_begin = p.pads_end = {pad, pad};
  p.has_bias = true;
  if (l.epilogue == Epilogue::kBiasRelu) p.activation = Activation::kRelu;
  if (l.epilogue == Epilogue::kBiasResidualRelu) {
    p.has_residual = true;
    p.post_activation = Activation::kRelu;
  }
  return p;
}

// The epilogue as the backend would plan it: all of it, or the longest prefix cuDNN fuses.
kiln::Result<ConvPlan> plan_with_fallback(cudnnHandle_t h, ConvProblem* p, std::string* fused) {
  std::vector<ConvProblem> tries = {*p};
  ConvProblem q = *p;
  if (q.post_activation != Activation::kNone || q.has_residual) {
    q.post_activation = Activation::kNone;
    q.has_residual = false;
    tries.push_back(q);
  }
  if (q.activation != Activation::kNone) {
    q.activation = Activation::kNone;
    tries.push_back(q);
  }
  if (q.has_bias) {
    q.has_bias = false;
    tries.push_back(q);
  }
  kiln::Status last;
  for (const ConvProblem& t : tries) {
    auto plan = kiln::cuda::make_conv_plan(h, t);
    if (plan.ok()) {
      *p = t;
      *fused = std::string(t.has_bias ? "+bias" : "") +
               (t.activation != Activation::kNone ? "+relu" : "") +
               (t.has_residual ? "+z+relu" : "");
      if (fused->empty()) *fused = "conv only";
      if (t.has_bias != tries[0].has_bias || t.has_residual != tries[0].has_residual ||
          t.activation != tries[0].activation)
        *fused += " (split)";
      return plan;
    }
    last = plan.status();
    if (last.code() != kiln::StatusCode::kUnsupported) break;
  }
  return last;
}

double median_ms(const ConvPlan& plan, cudnnHandle_t h, cudaStream_t stream, const ConvArgs& args,
                 void* workspace, int runs) {
  for (int i = 0; i < 10; ++i) CHECK_OK(plan.execute(h, stream, args, workspace));
  std::vector<cudaEvent_t> events(static_cast<size_t>(runs) + 1);
  for (auto& e : events) CHECK_CUDA(cudaEventCreate(&e));
  CHECK_CUDA(cudaEventRecord(events[0], stream));
  for (int i = 0; i < runs; ++i) {
    CHECK_OK(plan.execute(h, stream, args, workspace));
    CHECK_CUDA(cudaEventRecord(events[static_cast<size_t>(i) + 1], stream));
  }
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, events[static_cast<size_t>(i)],
                                    events[static_cast<size_t>(i) + 1]));
    ms.push_back(t);
  }
  for (auto& e : events) CHECK_CUDA(cudaEventDestroy(e));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void fill_random_half(void* dev, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<uint16_t> host(n);
  for (auto& x : host) x = kiln::float_to_half_bits(dist(rng));
  CHECK_CUDA(cudaMemcpy(dev, host.data(), n * 2, cudaMemcpyHostToDevice));
}

void bench(int64_t batch, int runs, cudnnHandle_t h, cudaStream_t stream) {
  size_t max_x = 0, max_w = 0, max_y = 0;
  for (const Layer& l : kLayers) {
    const ConvProblem p = problem_of(l, batch);
    max_x = std::max(max_x, static_cast<size_t>(p.x_elements()));
    max_w = std::max(max_w, static_cast<size_t>(p.w_elements()));
    max_y = std::max(max_y, static_cast<size_t>(p.y_elements()));
  }
  void *x, *w, *b, *z, *y;
  CHECK_CUDA(cudaMalloc(&x, max_x * 2));
  CHECK_CUDA(cudaMalloc(&w, max_w * 2));
  CHECK_CUDA(cudaMalloc(&b, 2048 * 2));
  CHECK_CUDA(cudaMalloc(&z, max_y * 2));
  CHECK_CUDA(cudaMalloc(&y, max_y * 2));
  fill_random_half(x, max_x, 1);
  fill_random_half(w, max_w, 2);
  fill_random_half(b, 2048, 3);
  fill_random_half(z, max_y, 4);

  int device = 0;
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDevice(&device));
  CHECK_CUDA(cudaGetDeviceProperties(&prop, device));
  const int64_t v = kiln::cuda::cudnn_runtime_version();
  std::printf("\ncuDNN %lld.%lld.%lld, %s, float16 NHWC, batch %lld, median of %d runs\n",
              static_cast<long long>(v / 10000), static_cast<long long>(v % 10000 / 100),
              static_cast<long long>(v % 100), prop.name, static_cast<long long>(batch), runs);
  std::printf("%-22s %-22s %2s %-20s %9s %9s %8s %7s  %s\n", "layer", "shape", "n", "fused",
              "heur ms", "tuned ms", "TFLOP/s", "tune s", "tuned engine");
  double total_heuristic = 0, total_tuned = 0, total_flops = 0, total_tune_s = 0;
  for (const Layer& l : kLayers) {
    ConvProblem p = problem_of(l, batch);
    std::string fused;
    auto heuristic = plan_with_fallback(h, &p, &fused);
    if (!heuristic.ok()) {
      std::printf("%-22s no plan: %s\n", l.name, heuristic.status().message().c_str());
      continue;
    }
    ConvArgs args;
    args.x = x;
    args.w = w;
    args.bias = p.has_bias ? b : nullptr;
    args.z = p.has_residual ? z : nullptr;
    args.y = y;

    kiln::cuda::ConvTuneOptions options;
    options.max_candidates = 8;
    options.warmup_runs = 5;
    options.timed_runs = std::max(5, runs / 2);
    options.buffers = &args;
    const auto t0 = std::chrono::steady_clock::now();
    auto tuned = kiln::cuda::tune_conv_plan(h, p, stream, options);
    const double tune_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK_OK(tuned.status());

    void* workspace = nullptr;
    const size_t ws = std::max(heuristic->workspace_bytes(), tuned->best.workspace_bytes());
    if (ws > 0) CHECK_CUDA(cudaMalloc(&workspace, ws));
    const double ms_h = median_ms(*heuristic, h, stream, args, workspace, runs);
    const double ms_t = median_ms(tuned->best, h, stream, args, workspace, runs);
    if (workspace != nullptr) CHECK_CUDA(cudaFree(workspace));

    const double flops = 2.0 * p.macs();
    char shape[64];
    std::snprintf(shape, sizeof shape, "%lldx%lld %lld->%lld %lldx%lld/%lld",
                  static_cast<long long>(l.hw), static_cast<long long>(l.hw),
                  static_cast<long long>(l.c), static_cast<long long>(l.k),
                  static_cast<long long>(l.kernel), static_cast<long long>(l.kernel),
                  static_cast<long long>(l.stride));
    std::printf("%-22s %-22s %2d %-20s %9.4f %9.4f %8.1f %7.2f  %s\n", l.name, shape, l.count,
                fused.c_str(), ms_h, ms_t, flops / (ms_t * 1e-3) / 1e12, tune_s,
                tuned->best.describe().c_str());
    total_heuristic += l.count * ms_h;
    total_tuned += l.count * ms_t;
    total_flops += l.count * flops;
    total_tune_s += tune_s;
  }
  std::printf("%-22s %-22s %2d %-20s %9.4f %9.4f %8.1f %7.2f\n", "total", "", 53, "",
              total_heuristic, total_tuned, total_flops / (total_tuned * 1e-3) / 1e12,
              total_tune_s);
  std::printf(
      "(%.2f GFLOP per image in these convolutions; tuned sum %.0f images/s from the "
      "convolutions alone)\n",
      total_flops / static_cast<double>(batch) / 1e9,
      static_cast<double>(batch) / (total_tuned * 1e-3));
  for (void* p : {x, w, b, z, y}) CHECK_CUDA(cudaFree(p));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> batches = {1, 256};
  if (argc > 1) batches = {std::atoll(argv[1])};
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  if (batches[0] < 1 || runs < 1) {
    std::fprintf(stderr, "usage: conv_bench [batch [runs]]\n");
    return 2;
  }
  cudnnHandle_t h;
  const cudnnStatus_t s = cudnnCreate(&h);
  if (s != CUDNN_STATUS_SUCCESS) {
    std::fprintf(stderr, "cudnnCreate: %s\n", cudnnGetErrorString(s));
    return 1;
  }
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  for (int64_t batch : batches) bench(batch, runs, h, stream);
  CHECK_CUDA(cudaStreamDestroy(stream));
  cudnnDestroy(h);
  return 0;
}
