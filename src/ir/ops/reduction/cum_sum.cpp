// CumSum: running sum along the axis given by input 1 (exclusive, reverse). Same type and shape.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {

void register_cum_sum(OpRegistry& r) {
  OpSchema s;
  s.op_type = "CumSum";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    if (ctx.input_dtype(0) == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
    const DataType at = ctx.input_dtype(1);
    if (at != DataType::kUndefined && at != DataType::kInt32 && at != DataType::kInt64) {
      return ctx.error(fmt::format("input 1 'axis' must be int32 or int64, got {}", dtype_name(at)));
    }
    if (const Tensor* t = ctx.input_value(1); t && ctx.input_shape(0)) {
      if (t->numel() != 1 || t->rank() > 1) {
        return ctx.error(fmt::format("input 1 'axis' must be a scalar, got {}", t->describe()));
      }
      auto v = read_int64s(*t);
      if (!v.ok()) return ctx.error(v.status().message());
      const int64_t rank = static_cast<int64_t>(ctx.input_rank(0));
      if (rank == 0) return ctx.error("input 0 must have rank >= 1");
      KILN_RETURN_IF_ERROR(normalize_axis(ctx, (*v)[0], rank).status());
    }
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
