#include "backends/cuda/ops/tuning.h"

#include <cuda_runtime_api.h>

#include "fmt/format.h"

namespace kiln::cuda {

std::string gpu_identity() {
  cudaDeviceProp p{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&p, device) != cudaSuccess) {
    cudaGetLastError();
    return "no CUDA device";
  }
  return fmt::format("{} sm_{}{}", p.name, p.major, p.minor);
}

TuningCounters& tuning_counters() {
  static TuningCounters counters;
  return counters;
}

std::string ms_text(double ms) { return ms < 0 ? "?" : fmt::format("{:.3g}", ms); }

LayerTuning::LayerTuning(BuildContext& build, const Node& n) : build_(build), start_(std::chrono::steady_clock::now()) {
  build.report_tuning(n);
}

void LayerTuning::finished(bool from_cache) {
  ++build_.tuned_layers;
  if (from_cache) ++build_.cached_layers;
  build_.tuning_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace kiln::cuda
