// BitShift: shifts unsigned integers LEFT or RIGHT (the 'direction' attribute, required).
#include "fmt/format.h"
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_bitshift(OpRegistry& r) {
  OpSchema s = make_broadcast_schema("BitShift", 2, 2, DtypeSet::kUnsigned);
  auto base = s.infer;
  s.infer = [base](InferenceContext& ctx) -> Status {
    auto dir = ctx.attrs().require_string("direction");
    if (!dir.ok()) return ctx.error(dir.status().message());
    if (*dir != "LEFT" && *dir != "RIGHT") {
      return ctx.error(fmt::format("attribute 'direction' is '{}', expected LEFT or RIGHT", *dir));
    }
    return base(ctx);
  };
  r.add(std::move(s));
}

}  // namespace kiln
