// Mod: remainder. fmod=0 (default) takes the divisor's sign (Python's %) and is only for integers;
// fmod=1 takes the dividend's sign (C's fmod) and is required for floats.
#include "fmt/format.h"
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_mod(OpRegistry& r) {
  OpSchema s = make_broadcast_schema("Mod", 2, 2, DtypeSet::kNumeric);
  auto base = s.infer;
  s.infer = [base](InferenceContext& ctx) -> Status {
    const int64_t fmod = ctx.attrs().get_int("fmod", 0);
    if (fmod != 0 && fmod != 1)
      return ctx.error(fmt::format("attribute 'fmod' is {}, expected 0 or 1", fmod));
    KILN_RETURN_IF_ERROR(base(ctx));
    const DataType t = ctx.outputs()[0].dtype;
    if (fmod == 0 && dtype_is_float(t)) {
      return ctx.error(
          fmt::format("attribute 'fmod' must be 1 for floating-point inputs ({})", dtype_name(t)));
    }
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
