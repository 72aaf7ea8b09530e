#include "ir/ops/families.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_linalg_ops(OpRegistry& r) {
  register_matmul(r);
  register_gemm(r);
  register_einsum(r);
  register_matmul_integer(r);
  register_qlinear_matmul(r);
  register_conv(r);
  register_conv_transpose(r);
  register_conv_integer(r);
  register_qlinear_conv(r);
  register_deform_conv(r);
  register_quantize_linear(r);
  register_dequantize_linear(r);
  register_dynamic_quantize_linear(r);
  register_det(r);
}

}  // namespace kiln
