#include "backends/reference/kernels/fused/fused_kernels.h"
#include "fmt/format.h"

namespace kiln {

Result<const Tensor*> fused_required_input(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return ctx.error(fmt::format("input {} '{}' is required but missing", i, name));
  return t;
}

Status fused_check_dtypes(const KernelContext& ctx, size_t count) {
  const Tensor* first = ctx.input(0);
  if (first == nullptr) return ctx.error("input 0 is required but missing");
  if (!dtype_is_float(first->dtype())) {
    return ctx.unsupported_error(fmt::format("input 0 has dtype {} (expected a float type)", dtype_name(first->dtype())));
  }
  for (size_t i = 1; i < count; ++i) {
    const Tensor* t = ctx.input(i);
    if (t && t->dtype() != first->dtype()) {
      return ctx.error(fmt::format("input {} has dtype {}, but input 0 has {}", i, dtype_name(t->dtype()),
                                   dtype_name(first->dtype())));
    }
  }
  return ok_status();
}

bool fused_fits(const Dims& d, const Dims& out) {
  bool fits = d.size() <= out.size();
  for (size_t k = 0; fits && k < d.size(); ++k) {
    const int64_t td = d[d.size() - 1 - k], od = out[out.size() - 1 - k];
    fits = td == 1 || td == od;
  }
  return fits;
}

Status fused_check_fits(const KernelContext& ctx, const Tensor* t, const Dims& out, const char* what) {
  if (t != nullptr && !fused_fits(t->shape(), out)) {
    return ctx.error(fmt::format("{} {} does not broadcast to the output [{}] without enlarging it", what,
                                 t->describe(), dims_to_string(out)));
  }
  return ok_status();
}

Status read_epilogue_activations(const KernelContext& ctx, Epilogue& e) {
  auto act = read_activation_attr(ctx.attrs(), "activation");
  if (!act.ok()) return ctx.error(act.status().message());
  auto post = read_activation_attr(ctx.attrs(), "post_activation");
  if (!post.ok()) return ctx.error(post.status().message());
  e.act = *act;
  e.post = *post;
  return ok_status();
}

}  // namespace kiln
