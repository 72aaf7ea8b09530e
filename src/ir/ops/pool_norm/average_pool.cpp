// AveragePool: the mean over each window; count_include_pad decides whether padded positions
// count in the divisor. Dilations exist from opset 19 (earlier models never set them).
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_average_pool(OpRegistry& r) {
  OpSchema s;
  s.op_type = "AveragePool";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) { return infer_pool(ctx, /*allow_int8=*/false); };
  r.add(std::move(s));
}

}  // namespace kiln
