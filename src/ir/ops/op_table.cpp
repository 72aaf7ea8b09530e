#include "ir/ops/families.h"

namespace kiln {

// The op table: every op family kiln knows.
void register_all_ops(OpRegistry& r) {
  register_elementwise_ops(r);
  register_binary_ops(r);
  register_reduction_ops(r);
  register_linalg_ops(r);
  register_pool_norm_ops(r);
  register_tensor_ops(r);
  register_indexing_ops(r);
  register_control_ops(r);
  register_fused_ops(r);
}

}  // namespace kiln
