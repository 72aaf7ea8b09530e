#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/shape.h"

namespace kiln {

Result<const Tensor*> fused_required_input(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return ctx.error(fmt::format("input {} '{}' is required but missing", i, name));
  return t;
}

namespace {
Result<Tensor> permuted_copy(const Tensor& t, const std::vector<int64_t>& perm) {
  KILN_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(t.dtype(), permuted_shape(t.shape(), perm)));
  transpose_elements(t.data(), t.shape(), dtype_size(t.dtype()), out.data(), perm);
  return out;
}
}  // namespace

Status run_channels_first(KernelContext& ctx, const std::vector<size_t>& permuted_inputs, KernelFn channels_first) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  if (x->rank() < 3) return ctx.error(fmt::format("input 0 'X' {} must have rank >= 3 (N, spatial..., C)", x->describe()));
  const int64_t rank = x->rank();
  SubstituteContext cf(ctx, /*own_output0=*/true);
  for (size_t i : permuted_inputs) {
    const Tensor* t = i < ctx.num_inputs() ? ctx.input(i) : nullptr;
    if (!t || t->rank() != rank) continue;  // absent, or wrong: the kernel reports it as given
    KILN_ASSIGN_OR_RETURN(Tensor copy, permuted_copy(*t, to_channels_first_perm(static_cast<size_t>(rank))));
    cf.replace_input(i, std::move(copy));
  }
  KILN_RETURN_IF_ERROR(channels_first(cf));
  const Tensor& y = cf.own_output();
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, y.dtype(), channels_last_shape(y.shape())));
  transpose_elements(y.data(), y.shape(), dtype_size(y.dtype()), out->data(), to_channels_last_perm(y.rank()));
  return ok_status();
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
