// MatMul (f32) on oneDNN: see matmul_common.cpp.
#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry matmul_entry() {
  KernelEntry e;
  e.op_type = "MatMul";
  e.name = "dnnl_matmul";
  e.supports = [](const Node& n) { return matmul_supported(n, MatMulFlavor::kMatMul); };
  e.create = [](const Node& n) { return make_matmul_kernel(n, MatMulFlavor::kMatMul); };
  e.computes_in = dnnl_product_computes_in;
  e.pack = [](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext&) { return pack_dnnl_weights(make_matmul_kernel(n, MatMulFlavor::kMatMul), n, profiles.front()); };
  return e;
}

}  // namespace kiln::cpu
