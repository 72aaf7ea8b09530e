// kiln.FusedMatMul (f32) on oneDNN: bias and Z as broadcasting binary-add post-ops, the
// activations as eltwise post-ops (see matmul_common.cpp).
#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

KernelEntry fused_matmul_entry() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "FusedMatMul";
  e.name = "dnnl_fused_matmul";
  e.supports = [](const Node& n) { return matmul_supported(n, MatMulFlavor::kFused); };
  e.create = [](const Node& n) { return make_matmul_kernel(n, MatMulFlavor::kFused); };
  e.computes_in = dnnl_product_computes_in;
  e.pack = [](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext&) { return pack_dnnl_weights(make_matmul_kernel(n, MatMulFlavor::kFused), n, profiles.front()); };
  return e;
}

}  // namespace kiln::cpu
