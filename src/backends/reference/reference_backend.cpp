#include "backends/reference/reference_backend.h"

namespace kiln {

namespace {
class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend() { register_reference_kernels(table_); }
  std::string name() const override { return "reference"; }
  // Reference kernels are portable C++: an engine for them runs on any host.
  std::string device_signature() const override { return "host"; }
  Status available() const override { return ok_status(); }
  const KernelTable& kernels() const override { return table_; }

 private:
  KernelTable table_;
};
}  // namespace

const Backend& reference_backend() {
  static const ReferenceBackend backend;
  return backend;
}

}  // namespace kiln
