#include "ir/ops/families.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln {

void register_fused_ops(OpRegistry& r) {
  register_fused_conv(r);
  register_fused_matmul(r);
  register_fused_pointwise(r);
  register_attention(r);
  register_rms_normalization(r);
  register_kiln_max_pool(r);
  register_device_copies(r);
}

}  // namespace kiln
