#include "backends/cpu/cpu_isa.h"

#include <cstdlib>
#include <cstring>

namespace kiln::cpu {

namespace {
VectorIsa detect() {
  __builtin_cpu_init();
  VectorIsa best = VectorIsa::kScalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = VectorIsa::kAvx2;
  if (best == VectorIsa::kAvx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    best = VectorIsa::kAvx512;
  }
  if (const char* cap = std::getenv("KILN_CPU_ISA")) {
    VectorIsa limit = best;
    if (std::strcmp(cap, "scalar") == 0) limit = VectorIsa::kScalar;
    else if (std::strcmp(cap, "avx2") == 0) limit = VectorIsa::kAvx2;
    if (static_cast<int>(limit) < static_cast<int>(best)) best = limit;
  }
  return best;
}
}  // namespace

VectorIsa vector_isa() {
  static const VectorIsa isa = detect();
  return isa;
}

const char* vector_isa_name(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kAvx512: return "avx512";
    case VectorIsa::kAvx2: return "avx2";
    case VectorIsa::kScalar: return "scalar";
  }
  return "scalar";
}

}  // namespace kiln::cpu
