#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/reference/reference_backend.h"

namespace kiln {

std::vector<const Backend*> all_backends() { return {&reference_backend(), &cpu_backend()}; }

const Backend* find_backend(const std::string& name) {
  for (const Backend* b : all_backends()) {
    if (b->name() == name) return b;
  }
  return nullptr;
}

}  // namespace kiln
