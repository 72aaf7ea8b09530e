// MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) with mean and variance taken over
// `axes` (default [0, 2, 3]).
#include <set>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_mean_variance_normalization(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MeanVarianceNormalization";
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
    if (ctx.input_shape(0)) {
      const int64_t rank = static_cast<int64_t>(ctx.input_shape(0)->size());
      std::set<int64_t> seen;
      for (int64_t a : ctx.attrs().get_ints("axes", {0, 2, 3})) {
        KILN_ASSIGN_OR_RETURN(int64_t ax, normalize_axis(ctx, a, rank));
        if (!seen.insert(ax).second) return ctx.error(fmt::format("attribute 'axes' repeats axis {}", a));
      }
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
