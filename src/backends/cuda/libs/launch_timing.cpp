#include "backends/cuda/libs/launch_timing.h"

#include <algorithm>
#include <vector>

namespace kiln::cuda {

namespace {

Status cuda_call_error(const std::string& what, const char* call, cudaError_t e) {
  std::string m = what + ": " + call + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return e == cudaErrorMemoryAllocation ? out_of_memory(std::move(m)) : internal_error(std::move(m));
}

#define KILN_TIMING_CUDA(what, expr)                                            \
  do {                                                                          \
    const cudaError_t kiln_timing_error_ = (expr);                              \
    if (kiln_timing_error_ != cudaSuccess) return cuda_call_error((what), #expr, kiln_timing_error_); \
  } while (0)

}  // namespace

Result<LaunchTiming> time_launches(const std::function<Status()>& launch, cudaStream_t stream, int warmup_runs,
                                   int timed_runs, const std::string& what) {
  if (timed_runs < 1) return invalid_argument(what + ": timing needs at least one timed run");
  for (int i = 0; i < warmup_runs; ++i) KILN_RETURN_IF_ERROR(launch());
  std::vector<cudaEvent_t> events(static_cast<size_t>(timed_runs) + 1, nullptr);
  struct Destroy {
    std::vector<cudaEvent_t>& e;
    ~Destroy() {
      for (cudaEvent_t ev : e) {
        if (ev) cudaEventDestroy(ev);
      }
    }
  } destroy{events};
  for (cudaEvent_t& e : events) KILN_TIMING_CUDA(what, cudaEventCreate(&e));
  KILN_TIMING_CUDA(what, cudaEventRecord(events[0], stream));
  for (int i = 0; i < timed_runs; ++i) {
    KILN_RETURN_IF_ERROR(launch());
    KILN_TIMING_CUDA(what, cudaEventRecord(events[static_cast<size_t>(i) + 1], stream));
  }
  KILN_TIMING_CUDA(what, cudaEventSynchronize(events.back()));
  std::vector<float> ms(static_cast<size_t>(timed_runs));
  for (size_t i = 0; i < ms.size(); ++i) KILN_TIMING_CUDA(what, cudaEventElapsedTime(&ms[i], events[i], events[i + 1]));
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  LaunchTiming t;
  t.median_ms = n % 2 ? ms[n / 2] : 0.5f * (ms[n / 2 - 1] + ms[n / 2]);
  t.min_ms = ms[0];
  return t;
}

}  // namespace kiln::cuda
