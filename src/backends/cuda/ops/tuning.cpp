#include "backends/cuda/ops/tuning.h"

#include <cuda_runtime_api.h>

#include <algorithm>

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

std::string join_tuned_choices(const std::vector<std::string>& choices) {
  return fmt::format("{}", fmt::join(choices, kTunedChoiceSeparator));
}

}  // namespace kiln::cuda
