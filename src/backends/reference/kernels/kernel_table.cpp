#include "backends/reference/kernels/families.h"
#include "backends/reference/reference_backend.h"

namespace kiln {

void register_reference_kernels(KernelTable& t) {
  register_elementwise_kernels(t);
  register_binary_kernels(t);
  register_reduction_kernels(t);
  register_linalg_kernels(t);
  register_pool_norm_kernels(t);
  register_tensor_kernels(t);
  register_indexing_kernels(t);
  register_control_kernels(t);
  register_fused_kernels(t);
}

}  // namespace kiln
