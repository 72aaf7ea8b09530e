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
  // Copies queued on `stream`; host memory may be any (pageable) memory.
  virtual Status copy_to_device(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  virtual Status copy_to_host(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  // Waits for everything queued on `stream`; reports an error any of it raised.
  virtual Status synchronize(void* stream) const = 0;
};

}  // namespace kiln
