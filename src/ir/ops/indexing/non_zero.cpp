// NonZero: the indices of non-zero elements, int64 [rank, count]; the count depends on data.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_non_zero(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const MaybeShape& s = ctx.input_shape(0);
  // A scalar counts as rank 1 (numpy's nonzero does the same).
  const Dim rows = s ? Dim::known(std::max<int64_t>(static_cast<int64_t>(s->size()), 1)) : Dim::unknown();
  ctx.set_output(0, DataType::kInt64, SymShape{rows, Dim::unknown()});
  return ok_status();
}

}  // namespace

void register_non_zero(OpRegistry& r) {
  OpSchema s;
  s.op_type = "NonZero";
  s.min_inputs = s.max_inputs = 1;
  s.infer = infer_non_zero;
  r.add(std::move(s));
}

}  // namespace kiln
