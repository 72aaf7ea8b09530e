// Gemm: Y = alpha * A' * B' + beta * C, with A' and B' optionally transposed 2-D matrices and C
// unidirectionally broadcast to [M, N]. C is optional from opset 11.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

void register_gemm(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Gemm";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    static const char* kNames[] = {"A", "B", "C"};
    for (size_t i = 0; i < 3; ++i) {
      KILN_RETURN_IF_ERROR(check_input_dtype(
          ctx, i, kNames[i],
          {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16,
           DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64}));
    }
    if (!ctx.has_input(2) && ctx.opset() < 11)
      return ctx.error("input 2 'C' is required before opset 11");
    const bool ta = ctx.attrs().get_int("transA", 0) != 0;
    const bool tb = ctx.attrs().get_int("transB", 0) != 0;
    const MaybeShape& sa = ctx.input_shape(0);
    const MaybeShape& sb = ctx.input_shape(1);
    if (sa && sa->size() != 2)
      return ctx.error(fmt::format("input 0 'A' has rank {}, expected 2", sa->size()));
    if (sb && sb->size() != 2)
      return ctx.error(fmt::format("input 1 'B' has rank {}, expected 2", sb->size()));
    Dim m = Dim::unknown(), n = Dim::unknown();
    if (sa) m = (*sa)[ta ? 1 : 0];
    if (sb) n = (*sb)[tb ? 0 : 1];
    if (sa && sb) {
      const Dim& ka = (*sa)[ta ? 0 : 1];
      const Dim& kb = (*sb)[tb ? 1 : 0];
      if (ka.is_known() && kb.is_known() && ka.value != kb.value) {
        return ctx.error(fmt::format("inner dims differ: A' is {}x{}, B' is {}x{}", m.str(),
                                     ka.str(), kb.str(), n.str()));
      }
    }
    if (const MaybeShape& sc = ctx.input_shape(2); ctx.has_input(2) && sc) {
      if (sc->size() > 2)
        return ctx.error(fmt::format("input 2 'C' has rank {}, expected <= 2", sc->size()));
      auto b = broadcast_shapes(*sc, SymShape{m, n});
      if (!b.ok())
        return ctx.error(fmt::format("input 2 'C' {} does not broadcast to [{},{}]",
                                     shape_to_string(sc), m.str(), n.str()));
      // Unidirectional: C may only stretch, the output stays [M, N].
      for (size_t i = 0; i < 2; ++i) {
        const Dim& o = (*b)[i];
        const Dim& want = i == 0 ? m : n;
        if (o.is_known() && want.is_known() && o.value != want.value) {
          return ctx.error(fmt::format("input 2 'C' {} does not broadcast to [{},{}]",
                                       shape_to_string(sc), m.str(), n.str()));
        }
      }
    }
    ctx.set_output(0, ctx.input_dtype(0), SymShape{m, n});
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
