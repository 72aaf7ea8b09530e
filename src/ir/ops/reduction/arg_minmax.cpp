// ArgMax and ArgMin: int64 indices of the extreme along `axis` (keepdims, select_last_index).
// One file for both: they differ only in the comparison, which is the kernel's business.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {
namespace {

Status infer_arg(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (dt == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
  const MaybeShape& in = ctx.input_shape(0);
  if (!in) {
    ctx.set_output(0, DataType::kInt64, std::nullopt);
    return ok_status();
  }
  const int64_t rank = static_cast<int64_t>(in->size());
  if (rank == 0) return ctx.error("input 0 must have rank >= 1");
  KILN_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.attrs().get_int("axis", 0), rank));
  const Dim& ad = (*in)[static_cast<size_t>(axis)];
  if (ad.is_known() && ad.value == 0) return ctx.error(fmt::format("cannot reduce over axis {} of size 0", axis));
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  SymShape out;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis) {
      out.push_back((*in)[static_cast<size_t>(i)]);
    } else if (keepdims) {
      out.push_back(Dim::known(1));
    }
  }
  ctx.set_output(0, DataType::kInt64, out);
  return ok_status();
}

void register_arg(OpRegistry& r, const char* op_type) {
  OpSchema s;
  s.op_type = op_type;
  s.min_inputs = s.max_inputs = 1;
  s.infer = infer_arg;
  r.add(std::move(s));
}

}  // namespace

void register_arg_max(OpRegistry& r) { register_arg(r, "ArgMax"); }
void register_arg_min(OpRegistry& r) { register_arg(r, "ArgMin"); }

}  // namespace kiln
