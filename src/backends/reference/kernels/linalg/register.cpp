#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln {

void register_linalg_kernels(KernelTable& t) {
  t.add("MatMul", ref_matmul);
  t.add("Gemm", ref_gemm);
  t.add("Einsum", ref_einsum);
  t.add("MatMulInteger", ref_matmul_integer);
  t.add("QLinearMatMul", ref_qlinear_matmul);
  t.add("Conv", ref_conv);
  t.add("ConvTranspose", ref_conv_transpose);
  t.add("ConvInteger", ref_conv_integer);
  t.add("QLinearConv", ref_qlinear_conv);
  t.add("DeformConv", ref_deform_conv);
  t.add("QuantizeLinear", ref_quantize_linear);
  t.add("DequantizeLinear", ref_dequantize_linear);
  t.add("DynamicQuantizeLinear", ref_dynamic_quantize_linear);
  t.add("Det", ref_det);
}

}  // namespace kiln
