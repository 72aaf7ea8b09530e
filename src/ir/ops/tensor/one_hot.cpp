// OneHot: indices [..] -> [.., depth, ..] (depth inserted at 'axis', default -1); on/off values
// from input 2 = [off, on]. Negative indices count from depth (opset 11); out-of-range indices
// give an all-off row.
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Result<int64_t> one_hot_depth(const Tensor& depth) {
  if (depth.numel() != 1) {
    return invalid_argument(fmt::format("input 1 'depth' must hold one value, has {}", depth.numel()));
  }
  KILN_ASSIGN_OR_RETURN(auto v, read_doubles(depth));
  if (!(v[0] >= 0) || v[0] > 1e12) return invalid_argument(fmt::format("depth {} is invalid", v[0]));
  return static_cast<int64_t>(v[0]);
}

void register_one_hot(OpRegistry& r) {
  OpSchema s;
  s.op_type = "OneHot";
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(2);
    const MaybeShape& vs = ctx.input_shape(2);
    if (vs && !(vs->size() == 1 && (!(*vs)[0].is_known() || (*vs)[0].value == 2))) {
      return ctx.error(fmt::format("input 2 'values' must be [off, on], has shape {}", shape_to_string(vs)));
    }
    if (ctx.input_dtype(0) == DataType::kBool || ctx.input_dtype(1) == DataType::kBool) {
      return ctx.error("indices and depth must be numeric");
    }
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    const int64_t out_rank = static_cast<int64_t>(in->size()) + 1;
    int64_t axis = ctx.attrs().get_int("axis", -1);
    if (axis < -out_rank || axis >= out_rank) {
      return ctx.error(fmt::format("axis {} is out of range for output rank {}", axis, out_rank));
    }
    if (axis < 0) axis += out_rank;
    Dim depth = Dim::unknown();
    if (const Tensor* d = ctx.input_value(1)) {
      KILN_ASSIGN_OR_RETURN(int64_t n, with_node_result(ctx, one_hot_depth(*d)));
      depth = Dim::known(n);
    }
    SymShape out = *in;
    out.insert(out.begin() + axis, depth);
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
