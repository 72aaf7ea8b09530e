// LogSoftmax (f32) on kiln's own vector kernels (see softmax_common.cpp).
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry log_softmax_entry() {
  KernelEntry e;
  e.op_type = "LogSoftmax";
  e.name = "cpu_log_softmax";
  e.supports = softmax_supported;
  e.create = [](const Node& n) { return make_softmax_kernel(n, /*log=*/true); };
  return e;
}

}  // namespace kiln::cpu
