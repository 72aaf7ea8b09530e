#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif
#include "backends/reference/reference_backend.h"
#include "fmt/format.h"

namespace kiln {

Status Backend::check_precision(const std::string& precision) const {
  if (precision == "fp32") return ok_status();
  return unsupported(fmt::format("the {} backend computes in the model's own precision; --{} needs a backend that has {} kernels", name(),
                                 precision, precision));
}

std::optional<std::string> Backend::device_mismatch(const std::string& built_for) const {
  if (built_for == device_signature()) return std::nullopt;
  return "";
}

std::vector<const Backend*> all_backends() {
#ifdef KILN_HAVE_CUDA
  return {&reference_backend(), &cpu_backend(), &cuda_backend()};
#else
  return {&reference_backend(), &cpu_backend()};
#endif
}

const Backend* find_backend(const std::string& name) {
  for (const Backend* b : all_backends()) {
    if (b->name() == name) return b;
  }
  return nullptr;
}

}  // namespace kiln
