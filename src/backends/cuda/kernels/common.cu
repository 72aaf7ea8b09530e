#include <atomic>
#include <mutex>

#include "backends/cuda/kernels/common.h"

namespace kiln::cuda {

namespace {

// Devices whose shape is cached; a device with a higher ordinal is queried on every call.
constexpr int kCachedDevices = 64;

struct CachedShape {
  std::atomic<bool> ready{false};
  DeviceShape shape;
};

CachedShape g_shapes[kCachedDevices];
std::mutex g_fill_mutex;  // taken only until a device's shape is cached

}  // namespace

cudaError_t current_device_shape(DeviceShape* shape) {
  int device = 0;
  KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  CachedShape* cached = device >= 0 && device < kCachedDevices ? &g_shapes[device] : nullptr;
  if (cached && cached->ready.load(std::memory_order_acquire)) {
    *shape = cached->shape;
    return cudaSuccess;
  }
  cudaDeviceProp prop;
  KILN_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  DeviceShape s;
  s.multiprocessors = prop.multiProcessorCount;
  s.max_threads_per_multiprocessor = prop.maxThreadsPerMultiProcessor;
  s.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
  if (cached) {
    const std::lock_guard<std::mutex> lock(g_fill_mutex);
    if (!cached->ready.load(std::memory_order_relaxed)) {
      cached->shape = s;
      cached->ready.store(true, std::memory_order_release);
    }
  }
  *shape = s;
  return cudaSuccess;
}

int grid_blocks(int64_t items, int threads_per_block) {
  const int64_t wanted = items <= 0 ? 1 : (items + threads_per_block - 1) / threads_per_block;
  int64_t resident = 1024;
  DeviceShape s;
  if (current_device_shape(&s) == cudaSuccess && s.multiprocessors > 0) {
    const int per_sm = s.max_threads_per_multiprocessor / threads_per_block;
    resident = static_cast<int64_t>(s.multiprocessors) * (per_sm > 0 ? per_sm : 1);
  }
  return static_cast<int>(wanted < resident ? wanted : resident);
}

}  // namespace kiln::cuda
