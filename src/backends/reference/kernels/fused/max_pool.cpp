// kiln.MaxPool: ONNX MaxPool's reference kernel, on a channels-first copy of X when
// channels_last = 1 (run_channels_first permutes X in and the result back).
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"

namespace kiln {

Status ref_kiln_max_pool(KernelContext& ctx) {
  if (ctx.attrs().get_int("channels_last", 0) != 1) return ref_max_pool(ctx);
  return run_channels_first(ctx, {0}, ref_max_pool);
}

}  // namespace kiln
