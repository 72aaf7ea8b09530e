// The CUDA device of the cuda backend: device memory, streams and copies through the CUDA
// runtime, and a description of the GPU and libraries for the engine's device signature.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backends/device.h"

namespace kiln::cuda {

class CudaDevice final : public Device {
 public:
  Result<void*> allocate(size_t bytes) const override;
  void free(void* p) const override;
  Result<void*> create_stream() const override;
  void destroy_stream(void* stream) const override;
  Result<void*> allocate_host(size_t bytes) const override;
  void free_host(void* p) const override;
  bool is_device_memory(const void* p) const override;
  Status copy_to_device(void* dst, const void* src, size_t bytes, void* stream) const override;
  Status copy_to_host(void* dst, const void* src, size_t bytes, void* stream) const override;
  Status copy_on_device(void* dst, const void* src, size_t bytes, void* stream) const override;
  Status synchronize(void* stream) const override;
  Status begin_capture(void* stream) const override;
  Result<void*> end_capture(void* stream) const override;
  Status launch_graph(void* graph, void* stream) const override;
  void destroy_graph(void* graph) const override;
  Result<void*> create_event() const override;
  Status record_event(void* event, void* stream) const override;
  Result<float> elapsed_ms(void* start, void* end) const override;
  void destroy_event(void* event) const override;
};

// ok when a CUDA device can be used here, else why not ("no CUDA device: ...").
Status cuda_device_status();
// "NVIDIA H200 sm_90, driver 13.0, CUDA runtime 13.0, cuDNN 9.14.0, cuBLASLt 13.1.0": what an
// engine built here is bound to (its kernels and tuned choices were made for them).
std::string cuda_device_signature();
// Whether an engine built for signature `built_for` may run where cuda_device_signature() is
// `here`: nullopt when it may (every part but the driver the same), else what differs, e.g.
// "GPU NVIDIA H100 sm_90 at build time, NVIDIA H200 sm_90 here; cuDNN 9.14.0 at build time,
// 9.19.0 here".
// Pure (no CUDA calls): tested without a GPU.
std::optional<std::string> cuda_signature_mismatch(const std::string& built_for, const std::string& here);
// A cuDNN or cuBLASLt version number (major·10000 + minor·100 + patch) as "9.14.0".
std::string library_version_text(int64_t version);
// A failed CUDA call as a Status naming what was being done.
Status cuda_status(int error, const std::string& what);

}  // namespace kiln::cuda
