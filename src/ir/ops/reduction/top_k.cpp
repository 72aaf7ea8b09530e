// TopK: the k largest (or smallest) values along `axis` and their int64 indices. k is an
// attribute at opset 1 and input 1 from opset 10; `largest` and `sorted` arrive at opset 11.
#include <optional>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {

void register_top_k(OpRegistry& r) {
  OpSchema s;
  s.op_type = "TopK";
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.min_outputs = s.max_outputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const DataType dt = ctx.input_dtype(0);
    if (dt == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
    // k when known ahead, else nullopt.
    std::optional<int64_t> k;
    if (ctx.opset() < 10) {
      KILN_ASSIGN_OR_RETURN(k, ctx.attrs().require_int("k"));
    } else {
      if (!ctx.has_input(1)) return ctx.error("input 1 'K' is required from opset 10");
      const DataType kt = ctx.input_dtype(1);
      if (kt != DataType::kUndefined && kt != DataType::kInt64) {
        return ctx.error(fmt::format("input 1 'K' must be int64, got {}", dtype_name(kt)));
      }
      if (const Tensor* t = ctx.input_value(1)) {
        if (t->numel() != 1) return ctx.error(fmt::format("input 1 'K' must hold one value, got {}", t->describe()));
        auto v = read_int64s(*t);
        if (!v.ok()) return ctx.error(v.status().message());
        k = (*v)[0];
      }
    }
    if (k && *k < 0) return ctx.error(fmt::format("k is {}, must be >= 0", *k));
    const MaybeShape& in = ctx.input_shape(0);
    if (!in) {
      ctx.set_output(0, dt, std::nullopt);
      ctx.set_output(1, DataType::kInt64, std::nullopt);
      return ok_status();
    }
    const int64_t rank = static_cast<int64_t>(in->size());
    if (rank == 0) return ctx.error("input 0 must have rank >= 1");
    KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.attrs().get_int("axis", -1), rank));
    SymShape out = *in;
    const Dim& ad = out[static_cast<size_t>(axis)];
    if (k && ad.is_known() && *k > ad.value) {
      return ctx.error(fmt::format("k is {}, more than the {} elements along axis {}", *k, ad.value, axis));
    }
    out[static_cast<size_t>(axis)] = k ? Dim::known(*k) : Dim::unknown();
    ctx.set_output(0, dt, out);
    ctx.set_output(1, DataType::kInt64, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
