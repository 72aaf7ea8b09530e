// Gemm (f32) on oneDNN: transA/transB as strides, alpha as the output scale, C (beta = 1 only)
// as a broadcasting binary-add post-op (see matmul_common.cpp).
#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry gemm_entry() {
  KernelEntry e;
  e.op_type = "Gemm";
  e.name = "dnnl_gemm";
  e.supports = [](const Node& n) { return matmul_supported(n, MatMulFlavor::kGemm); };
  e.create = [](const Node& n) { return make_matmul_kernel(n, MatMulFlavor::kGemm); };
  e.computes_in = dnnl_product_computes_in;
  e.pack = [](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext&) { return pack_dnnl_weights(make_matmul_kernel(n, MatMulFlavor::kGemm), n, profiles.front()); };
  return e;
}

}  // namespace kiln::cpu
