// A Backend is one kind of target (reference, cpu, cuda, ...). The builder asks it which nodes
// it supports and the runtime asks it for kernels. Backends live in an explicit registry
// (backend_registry.cpp); a backend that cannot run on this machine says why.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/device.h"
#include "backends/kernel.h"

namespace kiln {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Identifies the device kind an engine was built for ("x86_64 cpu", "NVIDIA H200 sm_90 ...").
  // An engine built for one signature is refused on another.
  virtual std::string device_signature() const = 0;
  // Whether an engine built where the signature was `built_for` may run here: nullopt when it
  // may; otherwise what differs, in words, or "" when only the whole signatures say it. The
  // default: the same signature.
  virtual std::optional<std::string> device_mismatch(const std::string& built_for) const;
  // ok if this backend can run here; otherwise the reason.
  virtual Status available() const = 0;
  virtual const KernelTable& kernels() const = 0;
  // 2-D convolutions run fastest with channels last (N×H×W×C): the builder then runs the
  // convert-to-channels-last layout pass at --opt-level 3.
  virtual bool prefers_channels_last() const { return false; }
  // ok if an engine may be built with --<precision> ("fp32", "fp16", "bf16") for this backend on
  // this machine; otherwise why not. Layers whose kernels cannot use it stay in fp32.
  virtual Status check_precision(const std::string& precision) const;
  // The memory this backend's kernels compute in when it is not host memory (see device.h).
  virtual const Device* device() const { return nullptr; }
};

// Every backend compiled in, by name ("reference", ...); nullptr if unknown.
const Backend* find_backend(const std::string& name);
std::vector<const Backend*> all_backends();

}  // namespace kiln
