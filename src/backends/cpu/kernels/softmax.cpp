// Softmax (f32) on kiln's own vector kernels (see softmax_common.cpp).
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry softmax_entry() {
  KernelEntry e;
  e.op_type = "Softmax";
  e.name = "cpu_softmax";
  e.supports = softmax_supported;
  e.create = [](const Node& n) { return make_softmax_kernel(n, /*log=*/false); };
  return e;
}

}  // namespace kiln::cpu
