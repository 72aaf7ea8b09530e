// MaxPool: the max over each window of the spatial axes; optional int64 Indices output (flat
// indices into the input, row-major or column-major over the spatial axes per storage_order).
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_max_pool(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MaxPool";
  s.min_inputs = s.max_inputs = 1;
  s.min_outputs = 1;
  s.max_outputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    const int64_t order = ctx.attrs().get_int("storage_order", 0);
    if (order != 0 && order != 1) return ctx.error(fmt::format("attribute 'storage_order' is {}, expected 0 or 1", order));
    return infer_pool(ctx, /*allow_int8=*/true);
  };
  r.add(std::move(s));
}

}  // namespace kiln
