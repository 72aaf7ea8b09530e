// Helpers shared by the CUDA tests (unit/cuda_*_test.cpp): whether a device is there (the GPU
// cases skip without one), a checked CUDA call, device memory freed on scope exit, and one
// element of a float32 / float16 / bfloat16 tensor as bytes and back, so that the values a kernel
// reads are exactly the rounded ones a test's reference uses.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/float16.h"
#include "kiln/dtype.h"

// Fails (and returns from) the current test function when the CUDA call does not succeed.
#define KILN_CUDA_ASSERT(expr)                                    \
  do {                                                            \
    const cudaError_t kiln_test_error_ = (expr);                  \
    ASSERT_EQ(kiln_test_error_, cudaSuccess)                      \
        << #expr << ": " << cudaGetErrorString(kiln_test_error_); \
  } while (0)

// For a GPU fixture's SetUp: the test skips where the runtime finds no device.
#define KILN_SKIP_WITHOUT_CUDA_DEVICE()                                                        \
  do {                                                                                         \
    if (!::kiln::test::cuda::cuda_device_present()) GTEST_SKIP() << "skipped: no CUDA device"; \
  } while (0)

namespace kiln::test::cuda {

inline bool cuda_device_present() {
  static const bool present = [] {
    int count = 0;
    const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    cudaGetLastError();  // a failed query leaves its error behind for the next call
    return ok;
  }();
  return present;
}

// Guard zones around a tested output, and the byte that poisons outputs before a run.
constexpr size_t kGuardBytes = 256;
constexpr uint8_t kPoison = 0xff;  // NaN in float32, float16 and bfloat16

// Device memory freed on scope exit.
struct DeviceMemory {
  void* ptr = nullptr;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
};

// The float types the CUDA kernels take: float32, float16, bfloat16.
inline size_t elem_size(DataType t) { return t == DataType::kFloat32 ? 4 : 2; }

// x rounded to dtype t, written as the little-endian bytes of one element.
inline void store_elem(DataType t, float x, unsigned char* dst) {
  if (t == DataType::kFloat32) {
    std::memcpy(dst, &x, 4);
    return;
  }
  const uint16_t bits = t == DataType::kFloat16 ? float_to_half_bits(x) : float_to_bf16_bits(x);
  std::memcpy(dst, &bits, 2);
}

inline float load_elem(DataType t, const unsigned char* src) {
  if (t == DataType::kFloat32) {
    float x;
    std::memcpy(&x, src, 4);
    return x;
  }
  uint16_t bits;
  std::memcpy(&bits, src, 2);
  return t == DataType::kFloat16 ? half_bits_to_float(bits) : bf16_bits_to_float(bits);
}

// x as dtype t holds it.
inline float round_to(DataType t, float x) {
  unsigned char b[4];
  store_elem(t, x, b);
  return load_elem(t, b);
}

}  // namespace kiln::test::cuda
