#include "backends/cuda/ops/tuning.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "fmt/format.h"
#include "fmt/ranges.h"

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

LayerTuning::LayerTuning(BuildContext& build, const Node& n, size_t problems)
    : build_(build), node_(n), problems_(problems), start_(std::chrono::steady_clock::now()) {}

void LayerTuning::start(size_t i) {
  start_ = std::chrono::steady_clock::now();
  build_.report_tuning(node_, i, problems_);
}

void LayerTuning::finished(bool from_cache) {
  if (!counted_) ++build_.tuned_layers;
  counted_ = true;
  ++build_.tuned_problems;
  if (from_cache) ++build_.cached_problems;
  build_.tuning_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::vector<std::string> tuned_record_lines(const Attributes& backend_data, const std::string& list_key,
                                            const std::string& old_key) {
  if (const Attribute* a = backend_data.find(list_key); a && a->kind == Attribute::Kind::kStrings) return a->strings;
  const std::string old = backend_data.get_string(old_key, "");
  if (old.empty()) return {};
  return {old};
}

void set_tuned_record_lines(Attributes& backend_data, const std::string& list_key, std::vector<std::string> lines) {
  Attribute a;
  a.kind = Attribute::Kind::kStrings;
  a.strings = std::move(lines);
  backend_data.set(list_key, std::move(a));
}

std::optional<size_t> tuned_record_for(const std::vector<std::string>& record_keys, const std::string& key,
                                       const std::string& fallback_key) {
  for (const std::string& wanted : {key, fallback_key}) {
    if (wanted.empty()) continue;
    auto it = std::find(record_keys.begin(), record_keys.end(), wanted);
    if (it != record_keys.end()) return static_cast<size_t>(it - record_keys.begin());
  }
  return std::nullopt;
}

std::string tuned_choice_text(const std::string& choice, double ms, const Dims& at) {
  return fmt::format("at {}: {} (tuned {} ms)", fmt::join(at, "x"), choice, ms_text(ms));
}

Result<double> median_launch_ms(const std::function<cudaError_t(cudaStream_t)>& launch, int warmup, int runs,
                                const std::string& what) {
  if (runs < 1) return invalid_argument(what + ": timing needs at least one run");
  auto failed = [&](cudaError_t e) {
    cudaGetLastError();
    return internal_error(fmt::format("{}: {}", what, cudaGetErrorString(e)));
  };
  cudaStream_t stream = nullptr;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); e != cudaSuccess) return failed(e);
  std::vector<cudaEvent_t> events(static_cast<size_t>(runs) + 1, nullptr);
  // Frees the stream and events on every path out.
  struct Owned {
    cudaStream_t& stream;
    std::vector<cudaEvent_t>& events;
    ~Owned() {
      for (cudaEvent_t ev : events) {
        if (ev) cudaEventDestroy(ev);
      }
      cudaStreamDestroy(stream);
    }
  } owned{stream, events};
  for (cudaEvent_t& ev : events) {
    if (cudaError_t e = cudaEventCreate(&ev); e != cudaSuccess) return failed(e);
  }
  for (int i = 0; i < warmup; ++i) {
    if (cudaError_t e = launch(stream); e != cudaSuccess) return failed(e);
  }
  if (cudaError_t e = cudaEventRecord(events[0], stream); e != cudaSuccess) return failed(e);
  for (int i = 0; i < runs; ++i) {
    if (cudaError_t e = launch(stream); e != cudaSuccess) return failed(e);
    if (cudaError_t e = cudaEventRecord(events[static_cast<size_t>(i) + 1], stream); e != cudaSuccess) return failed(e);
  }
  if (cudaError_t e = cudaEventSynchronize(events.back()); e != cudaSuccess) return failed(e);
  std::vector<float> ms(static_cast<size_t>(runs));
  for (size_t i = 0; i < ms.size(); ++i) {
    if (cudaError_t e = cudaEventElapsedTime(&ms[i], events[i], events[i + 1]); e != cudaSuccess) return failed(e);
  }
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

std::string join_tuned_choices(const std::vector<std::string>& choices) {
  return fmt::format("{}", fmt::join(choices, kTunedChoiceSeparator));
}

}  // namespace kiln::cuda
