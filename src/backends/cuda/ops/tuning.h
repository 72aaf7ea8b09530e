// Build-time tuning shared by the cuda backend's convolution and product kernels (conv.cpp,
// matmul.cpp). Their KernelEntry::pack times the library's candidates at the build shapes (or
// replays the timing cache's choice) and stores the chosen record in Node::backend_data; the
// kernel replays that record when a run's problem is the one it was chosen for and falls back
// to the library's heuristic otherwise (other shapes, or a record that no longer applies).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

#include "backends/kernel.h"

namespace kiln::cuda {

// The GPU a choice is made on, "NVIDIA H200 sm_90": with the library and its version, the
// device key of a timing-cache entry.
std::string gpu_identity();

// Process-wide counts the tests read (and that cost nothing to keep): layers whose candidates
// were timed at build time, tuned records a kernel replayed, plans a kernel took from the
// library's heuristic.
struct TuningCounters {
  std::atomic<size_t> layers_timed{0};
  std::atomic<size_t> records_replayed{0};
  std::atomic<size_t> heuristic_plans{0};
};
TuningCounters& tuning_counters();

// "0.031": a measured time for `kiln inspect` and the cache.
std::string ms_text(double ms);

// The bookkeeping around one layer's tuning: shows it on the progress line when made, and
// adds it to the build's tally (with its time) when finished.
class LayerTuning {
 public:
  LayerTuning(BuildContext& build, const Node& n);
  // The layer got a choice: timed here, or replayed from the timing cache.
  void finished(bool from_cache);

 private:
  BuildContext& build_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace kiln::cuda
