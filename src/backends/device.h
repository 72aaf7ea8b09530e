// Memory that a backend's kernels read and write when it is not the host's (a GPU's). The
// runtime plans it as it plans host memory (one arena per ExecutionContext), keeps a copy of
// each constant such kernels read (made when the engine is created), runs the copy nodes the
// builder inserted where values move between host and device, and hands the kernels the
// context's stream. A backend without one (nullptr) computes in host memory.
#pragma once

#include <cstddef>
#include <string>

#include "kiln/status.h"

namespace kiln {

class Device {
 public:
  virtual ~Device() = default;
  // Device memory of at least `bytes`, 256-byte aligned; freed with free().
  virtual Result<void*> allocate(size_t bytes) const = 0;
  virtual void free(void* p) const = 0;
  // A stream (queue of work) owned by one ExecutionContext.
  virtual Result<void*> create_stream() const = 0;
  virtual void destroy_stream(void* stream) const = 0;
  // Page-locked host memory of at least `bytes`, 64-byte aligned, freed with free_host(): copies
  // between it and the device are truly asynchronous and may be captured into a graph. The
  // runtime puts the host arena (and so the staging of inputs and outputs) of an engine with
  // device layers there.
  virtual Result<void*> allocate_host(size_t bytes) const = 0;
  virtual void free_host(void* p) const = 0;
  // Whether `p` points into device memory (to refuse a host pointer handed to run_on_device
  // before a kernel faults on it).
  virtual bool is_device_memory(const void* p) const = 0;
  // Copies queued on `stream`; host memory may be any (pageable) memory, but only copies from
  // and to memory of allocate_host() can be captured.
  virtual Status copy_to_device(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  virtual Status copy_to_host(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  virtual Status copy_on_device(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  // Waits for everything queued on `stream`; reports an error any of it raised.
  virtual Status synchronize(void* stream) const = 0;

  // Graph capture (CUDA graphs). Between begin_capture and end_capture the work queued on
  // `stream` from this thread is recorded, not run; end_capture ends the capture in every case
  // (also after a failure in between, so the stream is usable again) and returns the recorded
  // work made executable, or why it could not be captured. launch_graph queues the whole graph
  // on a stream; a graph is freed with destroy_graph. A device that cannot capture says so.
  virtual Status begin_capture(void* stream) const;
  virtual Result<void*> end_capture(void* stream) const;
  virtual Status launch_graph(void* graph, void* stream) const;
  virtual void destroy_graph(void* graph) const;

  // Timing marks (per-layer profiling without waiting between layers): record_event queues a
  // mark on `stream`; once the stream has passed both, elapsed_ms is the device time between
  // two marks. Events are made with create_event and freed with destroy_event. A device without
  // them says so, and the runtime then waits for the stream around each layer instead.
  virtual Result<void*> create_event() const;
  virtual Status record_event(void* event, void* stream) const;
  virtual Result<float> elapsed_ms(void* start, void* end) const;
  virtual void destroy_event(void* event) const;
};

inline Status Device::begin_capture(void*) const { return unsupported("this device cannot capture graphs"); }
inline Result<void*> Device::end_capture(void*) const { return unsupported("this device cannot capture graphs"); }
inline Status Device::launch_graph(void*, void*) const { return unsupported("this device cannot capture graphs"); }
inline void Device::destroy_graph(void*) const {}
inline Result<void*> Device::create_event() const { return unsupported("this device has no timing events"); }
inline Status Device::record_event(void*, void*) const { return unsupported("this device has no timing events"); }
inline Result<float> Device::elapsed_ms(void*, void*) const { return unsupported("this device has no timing events"); }
inline void Device::destroy_event(void*) const {}

}  // namespace kiln
