// FusedConv: Conv's own geometry and loops (make_conv_geom, conv_forward: double accumulators
// starting from the bias, rounded once on the store, exactly as the Conv kernel), then the
// activation, residual and post-activation in place on the output.
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

namespace {

// FusedConv with X, Z and Y channels-first (N, C, spatial...).
Status fused_conv_channels_first(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  KILN_ASSIGN_OR_RETURN(const Tensor* w, fused_required_input(ctx, 1, "W"));
  const Tensor* b = ctx.input(2);
  const Tensor* z = ctx.input(3);
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 4));
  Epilogue e;
  KILN_RETURN_IF_ERROR(read_epilogue_activations(ctx, e));
  e.residual = z;  // the bias is Conv's, added in the accumulator
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(ConvGeom g, make_conv_geom(ctx, x->shape(), w->shape(), false, out_dims));
  if (b && (b->rank() != 1 || b->dim(0) != g.M)) {
    return ctx.error(fmt::format("input 2 'B' {} must be 1-D with {} values", b->describe(), g.M));
  }
  if (z && z->shape() != out_dims) {
    return ctx.error(fmt::format("input 3 'Z' {} must have the output's shape [{}]", z->describe(),
                                 dims_to_string(out_dims)));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out_dims));
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

Status ref_fused_conv(KernelContext& ctx) {
  // channels_last: the same computation on channels-first copies of X and Z.
  if (ctx.attrs().get_int("channels_last", 0) == 1) return run_channels_first(ctx, {0, 3}, fused_conv_channels_first);
  return fused_conv_channels_first(ctx);
}

}  // namespace kiln
