// Times kiln::cuda::attention (src/backends/cuda/kernels/attention.cu) on BERT-base-like shapes
// and a few long-sequence ones. Not part of the build or CI; on the GPU machine, from the repo root:
//
//   nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Iinclude -Isrc
//        bench/cuda/attention_bench.cu src/backends/cuda/kernels/attention.cu -o attention_bench
//   (one command line)
//   ./attention_bench            # or ./attention_bench 500 for 500 timed runs per shape
//
// Each shape: 20 warm-up launches, then N launches timed one by one with CUDA events; prints the
// median and the minimum in ms, the achieved TFLOP/s (4·B·H·Sq·Sk·D multiply-adds counted as
// flops, halved under causal) and GB/s of the Q, K, V and Y bytes (seq 128 is closer to
// memory-bound than to compute-bound). Inputs are random; outputs are not checked here (the unit
// test cuda_attention_test does that). Also times the fixed 64- and 128-row tiles for the tuner.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "backends/cuda/kernels/attention.h"
#include "bench_util.h"

namespace {

struct Shape {
  const char* name;
  int64_t B, H, S, D;
  bool causal;
  bool key_mask;  // a [B, 1, 1, S] additive key-padding mask, as BERT's exporters write
};

void fill_half(void* dev, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<__half> host(n);
  for (auto& x : host) x = __float2half(dist(rng));
  CHECK_CUDA(cudaMemcpy(dev, host.data(), n * sizeof(__half), cudaMemcpyHostToDevice));
}

void bench(const Shape& s, int block_rows, int runs) {
  const size_t n = static_cast<size_t>(s.B * s.S * s.H * s.D);
  void *q, *k, *v, *y, *mask = nullptr;
  CHECK_CUDA(cudaMalloc(&q, n * 2));
  CHECK_CUDA(cudaMalloc(&k, n * 2));
  CHECK_CUDA(cudaMalloc(&v, n * 2));
  CHECK_CUDA(cudaMalloc(&y, n * 2));
  fill_half(q, n, 1);
  fill_half(k, n, 2);
  fill_half(v, n, 3);
  kiln::cuda::AttentionProblem p =
      kiln::cuda::dense_attention_problem(q, k, v, y, s.B, s.H, s.S, s.S, s.D, s.D);
  p.scale = 1.0f / std::sqrt(static_cast<float>(s.D));
  p.causal = s.causal;
  p.block_rows = block_rows;
  if (s.key_mask) {
    // The last eighth of each sequence padded out (-inf), the rest 0.
    std::vector<__half> host(static_cast<size_t>(s.B * s.S));
    for (int64_t b = 0; b < s.B; ++b) {
      for (int64_t j = 0; j < s.S; ++j) {
        host[static_cast<size_t>(b * s.S + j)] = __float2half(j < s.S - s.S / 8 ? 0.f : -INFINITY);
      }
    }
    CHECK_CUDA(cudaMalloc(&mask, host.size() * 2));
    CHECK_CUDA(cudaMemcpy(mask, host.data(), host.size() * 2, cudaMemcpyHostToDevice));
    p.mask = mask;
    p.mask_strides[0] = s.S;
    p.mask_strides[3] = 1;
  }

  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  for (int i = 0; i < 20; ++i) CHECK_CUDA(kiln::cuda::attention(p, kiln::DataType::kFloat16, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<cudaEvent_t> events(static_cast<size_t>(2 * runs));
  for (auto& e : events) CHECK_CUDA(cudaEventCreate(&e));
  for (int i = 0; i < runs; ++i) {
    CHECK_CUDA(cudaEventRecord(events[static_cast<size_t>(2 * i)], stream));
    CHECK_CUDA(kiln::cuda::attention(p, kiln::DataType::kFloat16, stream));
    CHECK_CUDA(cudaEventRecord(events[static_cast<size_t>(2 * i + 1)], stream));
  }
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<float> ms(static_cast<size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    CHECK_CUDA(cudaEventElapsedTime(&ms[static_cast<size_t>(i)], events[static_cast<size_t>(2 * i)],
                                    events[static_cast<size_t>(2 * i + 1)]));
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], best = ms.front();
  const double flops = 4.0 * s.B * s.H * s.S * s.S * s.D * (s.causal ? 0.5 : 1.0);
  const double bytes = 4.0 * static_cast<double>(n) * 2;
  std::printf("%-28s rows %-4s  median %8.4f ms  min %8.4f ms  %7.1f TFLOP/s  %7.1f GB/s\n", s.name,
              block_rows == 0 ? "auto" : (block_rows == 64 ? "64" : "128"), median, best, flops / (median * 1e9),
              bytes / (median * 1e6));

  for (auto& e : events) CHECK_CUDA(cudaEventDestroy(e));
  CHECK_CUDA(cudaStreamDestroy(stream));
  for (void* ptr : {q, k, v, y, mask}) {
    if (ptr) CHECK_CUDA(cudaFree(ptr));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s, %d SMs; fp16, %d timed runs per line\n", prop.name, prop.multiProcessorCount, runs);
  const Shape shapes[] = {
      {"bert-base b1 s128", 1, 12, 128, 64, false, false},
      {"bert-base b1 s128 mask", 1, 12, 128, 64, false, true},
      {"bert-base b64 s128", 64, 12, 128, 64, false, false},
      {"bert-base b64 s128 mask", 64, 12, 128, 64, false, true},
      {"b8 h16 s1024 d64", 8, 16, 1024, 64, false, false},
      {"b8 h16 s1024 d128", 8, 16, 1024, 128, false, false},
      {"b4 h16 s2048 d128 causal", 4, 16, 2048, 128, true, false},
  };
  for (const Shape& s : shapes) {
    for (int rows : {0, 64, 128}) bench(s, rows, runs);
  }
  return 0;
}
