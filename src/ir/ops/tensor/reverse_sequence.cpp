// ReverseSequence: reverses the first sequence_lens[b] steps along time_axis (default 0) for
// each batch entry b along batch_axis (default 1).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_reverse_sequence(OpRegistry& r) {
  OpSchema s;
  s.op_type = "ReverseSequence";
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    const int64_t ta = ctx.attrs().get_int("time_axis", 0);
    const int64_t ba = ctx.attrs().get_int("batch_axis", 1);
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) {
      return ctx.error(fmt::format("time_axis {} and batch_axis {} must be 0 and 1", ta, ba));
    }
    const DataType lt = ctx.input_dtype(1);
    if (lt != DataType::kInt64 && lt != DataType::kUndefined) {
      return ctx.error(fmt::format("input 1 'sequence_lens' must be int64, got {}", dtype_name(lt)));
    }
    const MaybeShape& in = ctx.input_shape(0);
    if (in && in->size() < 2) return ctx.error(fmt::format("input must have rank >= 2, has shape {}", shape_to_string(in)));
    return same_as_input(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
