#include "ir/ops/control/subgraph_infer.h"

namespace kiln {

Result<std::vector<ValueState>> infer_body(const InferenceContext& ctx, const Graph& body,
                                           const std::vector<ValueState>& inputs) {
  if (ctx.infer_subgraph) {
    auto r = ctx.infer_subgraph(body, inputs);
    if (!r.ok()) return r.status().with_context(ctx.node().describe());
    return r;
  }
  std::vector<ValueState> outs;
  for (const Value* o : body.outputs()) {
    ValueState s;
    s.dtype = o->dtype;
    s.shape = o->shape;
    outs.push_back(std::move(s));
  }
  return outs;
}

MaybeShape merge_shape(const MaybeShape& a, const MaybeShape& b) {
  if (!a || !b || a->size() != b->size()) return std::nullopt;
  SymShape out = *a;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != (*b)[i]) out[i] = Dim::unknown();
  }
  return out;
}

}  // namespace kiln
