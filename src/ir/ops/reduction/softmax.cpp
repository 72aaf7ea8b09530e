// Softmax, LogSoftmax and Hardmax: same dtype and shape as the input. Before opset 13 the input
// is coerced to 2D at `axis` (default 1); from 13 the op runs along `axis` alone (default -1).
// One file for the three: their schemas are identical.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {
namespace {

Status infer_softmax_like(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kUndefined && !dtype_is_float(dt)) {
    return ctx.unsupported_error(fmt::format("input 0 has dtype {} (expected a float type)", dtype_name(dt)));
  }
  if (const MaybeShape& in = ctx.input_shape(0)) {
    const int64_t def = ctx.opset() >= 13 ? -1 : 1;
    const int64_t rank = static_cast<int64_t>(in->size());
    const int64_t axis = ctx.attrs().get_int("axis", def);
    // Before 13, axis == rank is allowed (the 2D view is [N, 1]).
    if (ctx.opset() < 13 ? (axis < -rank || axis > rank) : (axis < -rank || axis >= rank)) {
      return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
    }
  }
  return same_as_input(ctx);
}

void register_softmax_like(OpRegistry& r, const char* op_type) {
  OpSchema s;
  s.op_type = op_type;
  s.min_inputs = s.max_inputs = 1;
  s.infer = infer_softmax_like;
  r.add(std::move(s));
}

}  // namespace

void register_softmax(OpRegistry& r) { register_softmax_like(r, "Softmax"); }
void register_log_softmax(OpRegistry& r) { register_softmax_like(r, "LogSoftmax"); }
void register_hardmax(OpRegistry& r) { register_softmax_like(r, "Hardmax"); }

}  // namespace kiln
