#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/fused/fused_kernels.h"

namespace kiln {

void register_fused_kernels(KernelTable& t) {
  t.add("FusedConv", ref_fused_conv, kKilnDomain);
  t.add("FusedMatMul", ref_fused_matmul, kKilnDomain);
  t.add("FusedPointwise", ref_fused_pointwise, kKilnDomain);
  t.add("Attention", ref_attention, kKilnDomain);
  t.add("RMSNormalization", ref_rms_normalization, kKilnDomain);
  t.add("MaxPool", ref_kiln_max_pool, kKilnDomain);
  // In host memory, where the reference computes, moving a value between memories is a copy.
  t.add("CopyToDevice", ref_identity, kKilnDomain);
  t.add("CopyToHost", ref_identity, kKilnDomain);
}

}  // namespace kiln
