#include <cstring>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Inference dropout: copies the input; the optional mask is all true (bool from opset 10, ones
// of X's dtype before). training_mode=true is supported only with a zero ratio (no randomness).
Status ref_dropout(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  if (opset >= 12 && ctx.has_input(2)) {
    const Tensor& t = *ctx.input(2);
    if (t.dtype() != DataType::kBool || t.numel() != 1) {
      return ctx.error(fmt::format("input 2 'training_mode' is {}, expected a bool scalar", t.describe()));
    }
    if (*t.data_as<bool>()) {
      double ratio = 0.5;
      if (ctx.has_input(1)) {
        KILN_ASSIGN_OR_RETURN(std::vector<double> r, read_float_input(ctx, 1, "ratio"));
        if (r.size() != 1) return ctx.error(fmt::format("input 1 'ratio' has {} values, expected a scalar", r.size()));
        ratio = r[0];
      }
      if (ratio != 0) return ctx.unsupported_error("training_mode is true with a nonzero ratio: random dropout is not supported");
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  if (x.nbytes() > 0) std::memcpy(y->data(), x.data(), x.nbytes());
  if (!wants_output(ctx, 1)) return ok_status();
  const DataType mask_dt = opset >= 10 ? DataType::kBool : x.dtype();
  KILN_ASSIGN_OR_RETURN(Tensor * mask, ctx.allocate_output(1, mask_dt, x.shape()));
  return dispatch_all(mask_dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* m = mask->data_as<T>();
    for (int64_t i = 0; i < mask->numel(); ++i) m[i] = static_cast<T>(1);
    return ok_status();
  });
}

}  // namespace kiln
