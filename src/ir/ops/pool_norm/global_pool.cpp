// GlobalAveragePool, GlobalMaxPool and GlobalLpPool share one file: they differ only in the
// reduction, and their schemas are identical (every spatial axis collapses to 1).
#include "fmt/format.h"
#include "ir/ops/pool_norm/pool_geometry.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

namespace {

Status infer_global_pool(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
  KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 2));
  const MaybeShape& in = ctx.input_shape(0);
  MaybeShape out;
  if (in) {
    SymShape s = *in;
    for (size_t i = 2; i < s.size(); ++i) s[i] = Dim::known(1);
    out = s;
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
  return ok_status();
}

}  // namespace

void register_global_pools(OpRegistry& r) {
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) {
    OpSchema s;
    s.op_type = op;
    s.min_inputs = s.max_inputs = 1;
    s.infer = [](InferenceContext& ctx) -> Status {
      if (ctx.node().op_type == "GlobalLpPool") {
        const double p = attr_p(ctx.attrs(), 2.0);
        if (!(p > 0)) return ctx.error(fmt::format("attribute 'p' is {}, expected a positive value", p));
      }
      return infer_global_pool(ctx);
    };
    r.add(std::move(s));
  }
}

}  // namespace kiln
