// FusedConv: Conv's own geometry and loops (make_conv_geom, conv_forward: double accumulators
// starting from the bias, rounded once on the store, exactly as the Conv kernel), then the
// activation, residual and post-activation in place on the output.
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/shape.h"

namespace kiln {

namespace {

// t (N, spatial..., C) as a new channels-first tensor (N, C, spatial...), or back.
Result<Tensor> permuted_copy(const Tensor& t, const std::vector<int64_t>& perm) {
  KILN_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(t.dtype(), permuted_shape(t.shape(), perm)));
  transpose_elements(t.data(), t.shape(), dtype_size(t.dtype()), out.data(), perm);
  return out;
}

// Conv(X, W) + B then the epilogue, all channels-first, into y (of the output's shape).
Status fused_conv_channels_first(const Tensor& xt, const Tensor& wt, const Tensor* b, const ConvGeom& g, const Epilogue& e, Tensor& yt);

}  // namespace

Status ref_fused_conv(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  KILN_ASSIGN_OR_RETURN(const Tensor* w, fused_required_input(ctx, 1, "W"));
  const Tensor* b = ctx.input(2);
  const Tensor* z = ctx.input(3);
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 4));
  Epilogue e;
  KILN_RETURN_IF_ERROR(read_epilogue_activations(ctx, e));
  // channels_last: the oracle permutes X and Z to channels-first, convolves as below and permutes
  // the result back (a copy each way; this kernel is the reference, not the fast path).
  const bool channels_last = ctx.attrs().get_int("channels_last", 0) == 1;
  Tensor x_cf, z_cf;
  if (channels_last) {
    if (x->rank() < 3) return ctx.error(fmt::format("input 0 'X' {} must have rank >= 3 (N, spatial..., C)", x->describe()));
    KILN_ASSIGN_OR_RETURN(x_cf, permuted_copy(*x, to_channels_first_perm(x->rank())));
    x = &x_cf;
    if (z && z->rank() == x->rank()) {
      KILN_ASSIGN_OR_RETURN(z_cf, permuted_copy(*z, to_channels_first_perm(z->rank())));
      z = &z_cf;
    }
  }
  e.residual = z;  // the bias is Conv's, added in the accumulator
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(ConvGeom g, make_conv_geom(ctx, x->shape(), w->shape(), false, out_dims));
  if (b && (b->rank() != 1 || b->dim(0) != g.M)) {
    return ctx.error(fmt::format("input 2 'B' {} must be 1-D with {} values", b->describe(), g.M));
  }
  if (z && z->shape() != out_dims) {
    return ctx.error(fmt::format("input 3 'Z' {} must have the output's shape [{}]", z->describe(),
                                 dims_to_string(channels_last ? channels_last_shape(out_dims) : out_dims)));
  }
  Tensor y_cf;
  Tensor* y = nullptr;
  if (channels_last) {
    KILN_ASSIGN_OR_RETURN(y_cf, Tensor::allocate(x->dtype(), out_dims));
    y = &y_cf;
  } else {
    KILN_ASSIGN_OR_RETURN(y, ctx.allocate_output(0, x->dtype(), out_dims));
  }
  KILN_RETURN_IF_ERROR(fused_conv_channels_first(*x, *w, b, g, e, *y));
  if (!channels_last) return ok_status();
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x->dtype(), channels_last_shape(out_dims)));
  transpose_elements(y->data(), y->shape(), dtype_size(y->dtype()), out->data(), to_channels_last_perm(y->rank()));
  return ok_status();
}

namespace {
Status fused_conv_channels_first(const Tensor& xt, const Tensor& wt, const Tensor* b, const ConvGeom& g, const Epilogue& e, Tensor& yt) {
  const Tensor* x = &xt;
  const Tensor* w = &wt;
  Tensor* y = &yt;
  return dispatch_float(x->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<double> xv = to_acc_vector<T>(*x), wv = to_acc_vector<T>(*w);
    std::vector<double> acc(static_cast<size_t>(y->numel()), 0.0);
    if (b) {
      const T* bp = b->data_as<T>();
      const int64_t os = g.out_size();
      for (int64_t n = 0; n < g.N; ++n) {
        for (int64_t m = 0; m < g.M; ++m) std::fill_n(acc.begin() + (n * g.M + m) * os, os, to_acc<T>(bp[m]));
      }
    }
    conv_forward(g, xv.data(), wv.data(), acc.data());
    T* yp = y->data_as<T>();
    for (size_t i = 0; i < acc.size(); ++i) yp[i] = from_acc<T>(acc[i]);
    apply_epilogue<T>(e, *y);
    return ok_status();
  });
}

}  // namespace

}  // namespace kiln
