// BlackmanWindow, HannWindow, HammingWindow: three ops with the same interface (a size input,
// 'periodic' and 'output_datatype' attributes) that differ only in their formula, so they share
// one schema builder here.
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/signal_infer.h"

namespace kiln {

namespace {

Status infer_window(InferenceContext& ctx) {
  KILN_ASSIGN_OR_RETURN(DataType t, output_datatype_attr(ctx));
  const int64_t periodic = ctx.attrs().get_int("periodic", 1);
  if (periodic != 0 && periodic != 1) return ctx.error(fmt::format("attribute 'periodic' is {}, expected 0 or 1", periodic));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> size, scalar_int_input(ctx, 0, "size"));
  if (size && *size < 0) return ctx.error(fmt::format("input 0 'size' is {}, expected >= 0", *size));
  ctx.set_output(0, t, SymShape{size ? Dim::known(*size) : Dim::unknown()});
  return ok_status();
}

void add_window(OpRegistry& r, const char* name) {
  OpSchema s;
  s.op_type = name;
  s.since_version = 17;
  s.min_inputs = s.max_inputs = 1;
  s.infer = infer_window;
  r.add(std::move(s));
}

}  // namespace

void register_windows(OpRegistry& r) {
  add_window(r, "BlackmanWindow");
  add_window(r, "HannWindow");
  add_window(r, "HammingWindow");
}

}  // namespace kiln
