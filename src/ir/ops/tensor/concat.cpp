// Concat: joins inputs along 'axis' (required from opset 4; default 1 before).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_concat(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Concat";
  s.min_inputs = 1;
  s.max_inputs = OpSchema::kUnbounded;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    int64_t axis = 1;
    if (ctx.opset() >= 4) {
      KILN_ASSIGN_OR_RETURN(axis, with_node_result(ctx, ctx.attrs().require_int("axis")));
    } else {
      axis = ctx.attrs().get_int("axis", 1);
    }
    DataType dt = DataType::kUndefined;
    const SymShape* first = nullptr;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
      const DataType t = ctx.input_dtype(i);
      if (dt == DataType::kUndefined) dt = t;
      else if (t != DataType::kUndefined && t != dt) {
        return ctx.error(fmt::format("input {} has dtype {}, expected {} like input 0", i, dtype_name(t), dtype_name(dt)));
      }
      if (!first && ctx.input_shape(i)) first = &*ctx.input_shape(i);
    }
    if (!first) {
      ctx.set_output(0, dt, std::nullopt);
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(first->size());
    if (rank == 0) return ctx.error("inputs must have rank >= 1");
    KILN_ASSIGN_OR_RETURN(axis, normalize_axis(ctx, axis, rank));
    SymShape out = *first;
    out[static_cast<size_t>(axis)] = Dim::known(0);
    bool axis_known = true;
    int64_t axis_sum = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const MaybeShape& s = ctx.input_shape(i);
      if (!s) {
        axis_known = false;
        continue;
      }
      if (static_cast<int64_t>(s->size()) != rank) {
        return ctx.error(fmt::format("input {} has rank {}, expected {} like the others", i, s->size(), rank));
      }
      for (int64_t d = 0; d < rank; ++d) {
        const Dim& x = (*s)[static_cast<size_t>(d)];
        if (d == axis) {
          if (x.is_known()) axis_sum += x.value;
          else axis_known = false;
          continue;
        }
        Dim& o = out[static_cast<size_t>(d)];
        if (x.is_known() && o.is_known() && x.value != o.value) {
          return ctx.error(fmt::format("input {} has shape {}, which does not match {} outside axis {}", i,
                                       shape_to_string(s), shape_to_string(*first), axis));
        }
        if (!o.is_known() && x.is_known()) o = x;
      }
    }
    out[static_cast<size_t>(axis)] = axis_known ? Dim::known(axis_sum) : Dim::unknown();
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
