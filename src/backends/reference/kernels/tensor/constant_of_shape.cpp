#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_constant_of_shape(KernelContext& ctx) {
  auto fill = constant_of_shape_fill(ctx.attrs());
  if (!fill.ok()) {
    if (fill.status().code() == StatusCode::kUnsupported) return ctx.unsupported_error(fill.status().message());
    return ctx.error(fill.status().message());
  }
  KILN_ASSIGN_OR_RETURN(auto shape, ints_input(ctx, 0, "input"));
  for (int64_t v : shape) {
    if (v < 0) return ctx.error(fmt::format("input 0 has a negative dim {}", v));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, fill->dtype(), shape));
  const size_t esize = dtype_size(fill->dtype());
  auto* dst = static_cast<unsigned char*>(y->data());
  for (int64_t i = 0; i < y->numel(); ++i) std::memcpy(dst + static_cast<size_t>(i) * esize, fill->data(), esize);
  return ok_status();
}

}  // namespace kiln
