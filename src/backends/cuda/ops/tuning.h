// Build-time tuning shared by the cuda backend's convolution and product kernels (conv.cpp,
// matmul.cpp). Their KernelEntry::pack times the library's candidates at each profile's opt
// shapes, once per distinct problem (or replays the timing cache's choice), and stores the chosen
// records in Node::backend_data; the kernel replays the record whose problem is a run's and falls
// back to the library's heuristic otherwise (other shapes, or a record that no longer applies).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "backends/kernel.h"

namespace kiln::cuda {

// The GPU a choice is made on, "NVIDIA H200 sm_90": with the library and its version, the
// device key of a timing-cache entry.
std::string gpu_identity();

// Process-wide counts the tests read (and that cost nothing to keep): problems whose candidates
// were timed at build time (one per layer and distinct profile problem), tuned records a kernel
// replayed, plans a kernel took from the library's heuristic.
struct TuningCounters {
  std::atomic<size_t> layers_timed{0};
  std::atomic<size_t> records_replayed{0};
  std::atomic<size_t> heuristic_plans{0};
};
TuningCounters& tuning_counters();

// "0.031": a measured time for `kiln inspect` and the cache.
std::string ms_text(double ms);

// The bookkeeping around one layer's tuning: shows each problem on the progress line when it
// starts, and adds the layer and its problems to the build's tally (with their time).
class LayerTuning {
 public:
  LayerTuning(BuildContext& build, const Node& n, size_t problems);
  // Problem `i` (0-based) of the layer's `problems` is being tuned.
  void start(size_t i);
  // That problem got a choice: timed here, or replayed from the timing cache.
  void finished(bool from_cache);

 private:
  BuildContext& build_;
  const Node& node_;
  size_t problems_;
  bool counted_ = false;  // the layer is in build_.tuned_layers
  std::chrono::steady_clock::time_point start_;
};

// Node::backend_data keeps one tuned record (a line of text) per problem, as a list under the
// kernel's `list_key` ("cublaslt_algos", "cudnn_plans"). Engines from before every profile was
// tuned hold one record as a string under `old_key` ("cublaslt_algo", "cudnn_plan"): read as a
// list of one.
std::vector<std::string> tuned_record_lines(const Attributes& backend_data, const std::string& list_key,
                                            const std::string& old_key);
void set_tuned_record_lines(Attributes& backend_data, const std::string& list_key, std::vector<std::string> lines);

// Which of the records tuned for the problems `record_keys` (in the order stored) a run of problem
// `key` replays: the one tuned for it; else, when `fallback_key` is not empty, one tuned for that
// (a convolution alone, where cuDNN had no engine for the fused layer at build time). None: the
// library's heuristic plans.
std::optional<size_t> tuned_record_for(const std::vector<std::string>& record_keys, const std::string& key,
                                       const std::string& fallback_key = "");

// One problem's choice in words for `kiln inspect`, "at 64x128x768: cublasLt algo 6 tile 18
// stages 8 (tuned 0.031 ms)": the layer's first input's dims it was tuned at (first, so that a
// line cut to the table's width keeps them), the choice and its time.
std::string tuned_choice_text(const std::string& choice, double ms, const Dims& at);
// The layer's choices joined for Node::backend_data's kTuningChoiceKey (kTunedChoiceSeparator
// between problems).
std::string join_tuned_choices(const std::vector<std::string>& choices);

}  // namespace kiln::cuda
