// MatMul (f32) on oneDNN: see matmul_common.cpp.
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry matmul_entry() {
  KernelEntry e;
  e.op_type = "MatMul";
  e.name = "dnnl_matmul";
  e.supports = [](const Node& n) { return matmul_supported(n, MatMulFlavor::kMatMul); };
  e.create = [](const Node& n) { return make_matmul_kernel(n, MatMulFlavor::kMatMul); };
  return e;
}

}  // namespace kiln::cpu
