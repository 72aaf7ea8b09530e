#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln {

Status ref_conv(KernelContext& ctx) { return run_float_conv(ctx, false); }

}  // namespace kiln
