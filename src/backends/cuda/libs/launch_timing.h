// Timing work queued on a CUDA stream, for build-time tuning: the cuBLASLt products' algorithms
// (cublaslt_matmul.h) and kiln's own kernels' tile shapes (ops/attention.cpp) are timed alike.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <string>

#include "kiln/status.h"

namespace kiln::cuda {

struct LaunchTiming {
  float median_ms = 0;
  float min_ms = 0;
};

// Queues `launch` `warmup_runs` times untimed, then `timed_runs` times back to back with a CUDA
// event between each two (the device never waits for the host, as in an engine), waits for the
// last event and returns the median and the fastest interval in milliseconds. An error of
// `launch` is returned as it is; a failing CUDA call is an error naming `what` and the call.
Result<LaunchTiming> time_launches(const std::function<Status()>& launch, cudaStream_t stream, int warmup_runs,
                                   int timed_runs, const std::string& what);

}  // namespace kiln::cuda
