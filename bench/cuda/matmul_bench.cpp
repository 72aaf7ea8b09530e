// Times kiln's cuBLASLt products (src/backends/cuda/libs/cublaslt_matmul.h) on BERT-base's
// matrix shapes in float16, cuBLASLt's heuristic algorithm against the one tune_matmul picks.
// Not part of the build or CI; on the GPU machine, from the repo root:
//
//   g++ -std=c++20 -O2 -Iinclude -Isrc -I/usr/local/cuda/include
//       bench/cuda/matmul_bench.cpp src/backends/cuda/libs/cublaslt_matmul.cpp src/backends/cuda/libs/launch_timing.cpp
//       -L/usr/local/cuda/lib64 -lcublasLt -lcudart -o matmul_bench      (one command line)
//   ./matmul_bench            # or ./matmul_bench 500 for 500 timed runs per plan and round
//
// Shapes: M = 128 (one sequence of 128 tokens) and M = 8192 (batch 64), K = 768: the QKV
// projection (N = 2304, bias), the attention output projection (N = 768, bias and the residual
// added in place, beta = 1 with C = D), the FFN up-projection (N = 3072, bias and GELU), and the
// FFN down-projection (K = 3072, N = 768, bias and residual). Weights are [K, N] as ONNX
// exporters write them (trans_b = 0). tune_matmul times up to 16 heuristic candidates; then both
// plans are timed again, alternately, three rounds of N back-to-back runs each (median per round
// from CUDA events, the best round reported), on the same operands. TFLOP/s counts 2·M·N·K.
// Inputs are random; outputs are not checked here (tests/unit/cuda_matmul_test.cpp does that).
// The in-place residual grows D by about one product per run, far below float16's range for
// these run counts.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "backends/cuda/libs/cublaslt_matmul.h"
#include "bench_util.h"

namespace {

using kiln::DataType;
using namespace kiln::cuda;

template <typename T>
T check(kiln::Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().message().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// Random float16 values with magnitudes in [0.5, 1), as bit patterns.
void* random_half(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint16_t> host(n);
  for (auto& v : host) {
    const uint64_t r = rng();
    v = static_cast<uint16_t>(((r >> 63) << 15) | (14u << 10) | (r & 0x3ff));
  }
  void* dev = nullptr;
  CHECK_CUDA(cudaMalloc(&dev, n * 2));
  CHECK_CUDA(cudaMemcpy(dev, host.data(), n * 2, cudaMemcpyHostToDevice));
  return dev;
}

struct Shape {
  const char* name;
  int64_t m, n, k;
  MatmulActivation activation;
  bool residual;
};

}  // namespace

int main(int argc, char** argv) {
  const int timed_runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf(
      "%s, cuBLASLt %zu, float16 inputs and outputs, fp32 accumulation, %d runs per "
      "round\n\n",
      prop.name, cublaslt_version(), timed_runs);

  CublasLtHandle handle = check(CublasLtHandle::create());
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));

  const Shape shapes[] = {
      {"qkv", 0, 2304, 768, MatmulActivation::kNone, false},
      {"attn_out", 0, 768, 768, MatmulActivation::kNone, true},
      {"ffn_up", 0, 3072, 768, MatmulActivation::kGelu, false},
      {"ffn_down", 0, 768, 3072, MatmulActivation::kNone, true},
  };
  std::printf("%-9s %5s %5s %5s %-14s | %9s %7s | %9s %7s | %6s %s\n", "layer", "M", "N", "K",
              "epilogue", "heur. ms", "TFLOP/s", "tuned ms", "TFLOP/s", "ratio", "chosen");
  for (int64_t m : {int64_t{128}, int64_t{8192}}) {
    for (Shape s : shapes) {
      s.m = m;
      MatmulDesc d;
      d.m = s.m;
      d.n = s.n;
      d.k = s.k;
      d.input_dtype = d.output_dtype = DataType::kFloat16;
      d.bias = true;
      d.activation = s.activation;
      d.beta = s.residual ? 1.0f : 0.0f;
      d.alignment = 256;  // cudaMalloc'd operands

      MatmulPlan heuristic = check(create_matmul_plan(handle.get(), d));
      TuneOptions options;
      options.candidates = 16;
      options.warmup_runs = 10;
      options.timed_runs = 50;
      TuneResult tuned = check(tune_matmul(handle.get(), d, options, stream));

      void* a = random_half(static_cast<size_t>(s.m * s.k), 1);
      void* b = random_half(static_cast<size_t>(s.k * s.n), 2);
      void* out = random_half(static_cast<size_t>(s.m * s.n), 3);
      void* bias = random_half(static_cast<size_t>(s.n), 4);
      const size_t workspace_bytes =
          std::max(heuristic.workspace_bytes(), tuned.plan.workspace_bytes());
      void* workspace = nullptr;
      if (workspace_bytes) CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
      MatmulOperands x{a, b, s.residual ? out : nullptr, out, bias};

      float best_heuristic = 1e30f, best_tuned = 1e30f;
      for (int round = 0; round < 3; ++round) {
        const MatmulTiming th = check(time_matmul(handle.get(), heuristic, x, workspace,
                                                  workspace_bytes, stream, 20, timed_runs));
        const MatmulTiming tt = check(time_matmul(handle.get(), tuned.plan, x, workspace,
                                                  workspace_bytes, stream, 20, timed_runs));
        best_heuristic = std::min(best_heuristic, th.median_ms);
        best_tuned = std::min(best_tuned, tt.median_ms);
      }
      const double flop =
          2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      const auto tflops = [&](float ms) { return flop / (ms * 1e-3) / 1e12; };
      char epilogue[32];
      std::snprintf(epilogue, sizeof(epilogue), "bias%s%s",
                    s.activation == MatmulActivation::kGelu ? "+gelu" : "",
                    s.residual ? "+residual" : "");
      std::printf(
          "%-9s %5lld %5lld %5lld %-14s | %9.4f %7.1f | %9.4f %7.1f | %6.3f rank %d of %zu\n",
          s.name, static_cast<long long>(s.m), static_cast<long long>(s.n),
          static_cast<long long>(s.k), epilogue, best_heuristic, tflops(best_heuristic), best_tuned,
          tflops(best_tuned), best_heuristic / best_tuned, tuned.chosen, tuned.candidates.size());
      for (void* p : {a, b, out, bias, workspace}) {
        if (p) CHECK_CUDA(cudaFree(p));
      }
    }
  }
  CHECK_CUDA(cudaStreamDestroy(stream));
  return 0;
}
