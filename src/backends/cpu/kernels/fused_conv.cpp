// kiln.FusedConv (2-D, f32) on oneDNN: the activation and post_activation as eltwise post-ops, the
// residual Z as a sum post-op (see conv_common.cpp).
#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

KernelEntry fused_conv_entry() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "FusedConv";
  e.name = "dnnl_fused_conv";
  e.supports = [](const Node& n) { return conv_supported(n, true); };
  e.create = [](const Node& n) { return make_conv_kernel(n, true); };
  e.computes_in = dnnl_product_computes_in;
  e.pack = [](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext&) { return pack_dnnl_weights(make_conv_kernel(n, true), n, profiles.front()); };
  return e;
}

}  // namespace kiln::cpu
