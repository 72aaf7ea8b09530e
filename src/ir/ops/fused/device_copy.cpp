// kiln.CopyToDevice and kiln.CopyToHost: Y is X, moved between host memory and the memory of a
// device backend (a GPU's). The builder inserts them where a value crosses between a device
// backend's kernels and host kernels (a fallback, a graph input or output), so every copy the
// engine makes is a layer `kiln inspect` shows.
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {
OpSchema copy_schema(const char* op_type) {
  OpSchema s;
  s.domain = kKilnDomain;
  s.op_type = op_type;
  s.since_version = 1;
  s.min_inputs = s.max_inputs = 1;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
    ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
    return ok_status();
  };
  return s;
}
}  // namespace

void register_device_copies(OpRegistry& r) {
  r.add(copy_schema("CopyToDevice"));
  r.add(copy_schema("CopyToHost"));
}

}  // namespace kiln
