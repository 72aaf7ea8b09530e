#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln {

Status ref_conv_transpose(KernelContext& ctx) { return run_float_conv(ctx, true); }

}  // namespace kiln
