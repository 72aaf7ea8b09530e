// Conv (2-D, f32) on oneDNN: see conv_common.cpp.
#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"

namespace kiln::cpu {

KernelEntry conv_entry() {
  KernelEntry e;
  e.op_type = "Conv";
  e.name = "dnnl_conv";
  e.supports = [](const Node& n) { return conv_supported(n, false); };
  e.create = [](const Node& n) { return make_conv_kernel(n, false); };
  e.computes_in = dnnl_product_computes_in;
  e.pack = [](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext&) { return pack_dnnl_weights(make_conv_kernel(n, false), n, profiles.front()); };
  return e;
}

}  // namespace kiln::cpu
