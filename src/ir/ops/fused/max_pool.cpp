// kiln.MaxPool: ONNX MaxPool (its attributes, one output, storage_order 0) on a channels-last
// X (N, spatial..., C) when channels_last = 1, giving Y (N, out spatial..., C). The layout pass
// puts it between channels-last convolutions, so no Transpose is needed around the pooling.
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_geometry.h"

namespace kiln {

void register_kiln_max_pool(OpRegistry& r) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = "MaxPool";
  s.since_version = 1;
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    KILN_RETURN_IF_ERROR(check_float_inputs(ctx, {"X"}));
    const int64_t channels_last = ctx.attrs().get_int("channels_last", 0);
    if (channels_last != 0 && channels_last != 1) {
      return ctx.error(fmt::format("attribute 'channels_last' is {}, expected 0 or 1", channels_last));
    }
    if (ctx.attrs().get_int("storage_order", 0) != 0) return ctx.error("attribute 'storage_order' must be 0 (kiln.MaxPool has no indices output)");
    const MaybeShape& x = ctx.input_shape(0);
    MaybeShape out;
    if (x) {
      if (x->size() < 3) return ctx.error(fmt::format("input 0 'X' has rank {}, expected at least 3", x->size()));
      const SymShape cf = channels_last ? channels_first_shape(*x) : *x;
      std::vector<int64_t> spatial;
      for (size_t i = 2; i < cf.size(); ++i) spatial.push_back(cf[i].value);
      auto g = pool_geometry(ctx.attrs(), spatial);
      if (!g.ok()) return ctx.error(g.status().message());
      SymShape y = {cf[0], cf[1]};
      for (int64_t o : g->out) y.push_back(o >= 0 ? Dim::known(o) : Dim::unknown());
      out = channels_last ? channels_last_shape(y) : y;
    }
    ctx.set_output(0, ctx.input_dtype(0), out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
