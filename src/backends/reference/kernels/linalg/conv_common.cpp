#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Result<ConvGeom> make_conv_geom(const KernelContext& ctx, const Dims& x, const Dims& w,
                                bool transpose, Dims& out_dims) {
  if (x.size() < 3 || x.size() != w.size()) {
    return ctx.error(fmt::format("X [{}] and W [{}] must have the same rank >= 3",
                                 dims_to_string(x), dims_to_string(w)));
  }
  const size_t ns = x.size() - 2;
  if (ns > 3)
    return ctx.unsupported_error(fmt::format("{}-D convolution (at most 3 spatial dims)", ns));
  const std::vector<int64_t> wk(w.begin() + 2, w.end());
  auto params = read_conv_params(ctx.attrs(), ns, wk, transpose);
  if (!params.ok()) return ctx.error(params.status().message());
  const ConvParams& p = *params;
  ConvGeom g;
  g.N = x[0];
  g.C = x[1];
  g.G = p.group;
  if (transpose) {
    if (w[0] != g.C || g.C % g.G != 0) {
      return ctx.error(fmt::format("X [{}] and W [{}] disagree on input channels (group {})",
                                   dims_to_string(x), dims_to_string(w), g.G));
    }
    g.M = w[1] * g.G;
  } else {
    if (g.C != w[1] * g.G || w[0] % g.G != 0) {
      return ctx.error(fmt::format("X [{}] and W [{}] disagree on channels (group {})",
                                   dims_to_string(x), dims_to_string(w), g.G));
    }
    g.M = w[0];
  }
  out_dims = {g.N, g.M};
  const size_t pad = 3 - ns;  // leading size-1 spatial dims
  for (size_t i = 0; i < ns; ++i) {
    auto d =
        transpose ? conv_transpose_output_dim(p, i, x[i + 2]) : conv_output_dim(p, i, x[i + 2]);
    if (!d.ok()) return ctx.error(d.status().message());
    g.in[pad + i] = x[i + 2];
    g.out[pad + i] = d->out;
    g.k[pad + i] = wk[i];
    g.s[pad + i] = p.strides[i];
    g.d[pad + i] = p.dilations[i];
    g.p[pad + i] = d->pad_begin;
    out_dims.push_back(d->out);
  }
  return g;
}

// Conv and ConvTranspose differ only in the loop nest; both convert to double, start from the
// bias and round once on the store.
Status run_float_conv(KernelContext& ctx, bool transpose) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor* b = ctx.input(2);
  if (w.dtype() != x.dtype() || (b && b->dtype() != x.dtype()))
    return ctx.error("inputs have different dtypes");
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(ConvGeom g, make_conv_geom(ctx, x.shape(), w.shape(), transpose, out_dims));
  if (b && (b->rank() != 1 || b->dim(0) != g.M)) {
    return ctx.error(fmt::format("input 2 'B' {} must be 1-D with {} values", b->describe(), g.M));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<double> xv = to_acc_vector<T>(x), wv = to_acc_vector<T>(w);
    std::vector<double> acc(static_cast<size_t>(y->numel()), 0.0);
    if (b) {
      const T* bp = b->data_as<T>();
      const int64_t os = g.out_size();
      for (int64_t n = 0; n < g.N; ++n) {
        for (int64_t m = 0; m < g.M; ++m) {
          std::fill_n(acc.begin() + (n * g.M + m) * os, os, to_acc<T>(bp[m]));
        }
      }
    }
    if (transpose) {
      conv_transpose_forward(g, xv.data(), wv.data(), acc.data());
    } else {
      conv_forward(g, xv.data(), wv.data(), acc.data());
    }
    T* yp = y->data_as<T>();
    for (size_t i = 0; i < acc.size(); ++i) yp[i] = from_acc<T>(acc[i]);
    return ok_status();
  });
}

// A per-tensor (one value) or per-output-channel ([M]) parameter, as M values.
Result<std::vector<double>> per_channel(const KernelContext& ctx, const Tensor* t, int64_t M,
                                        const char* name, bool allow_channels) {
  if (!t) return std::vector<double>(static_cast<size_t>(M), 0.0);
  const std::vector<double> v = tensor_as_doubles(*t);
  if (v.size() == 1) return std::vector<double>(static_cast<size_t>(M), v[0]);
  if (allow_channels && t->rank() == 1 && t->dim(0) == M) return v;
  return ctx.error(fmt::format(
      "input '{}' {} must be a scalar{}", name, t->describe(),
      allow_channels ? fmt::format(" or have {} values (one per output channel)", M) : ""));
}

// Runs the integer convolution; x, w: data inputs, xz, wz: their zero points (may be null).
Result<std::vector<uint64_t>> integer_conv(KernelContext& ctx, const Tensor& x, const Tensor& w,
                                           const Tensor* xz, const Tensor* wz, const Tensor* bias,
                                           ConvGeom& g, Dims& out_dims) {
  KILN_ASSIGN_OR_RETURN(g, make_conv_geom(ctx, x.shape(), w.shape(), false, out_dims));
  KILN_ASSIGN_OR_RETURN(std::vector<double> xzp, per_channel(ctx, xz, 1, "x_zero_point", false));
  KILN_ASSIGN_OR_RETURN(std::vector<double> wzp, per_channel(ctx, wz, g.M, "w_zero_point", true));
  if (xz && xz->dtype() != x.dtype()) return ctx.error("x_zero_point has another dtype than x");
  if (wz && wz->dtype() != w.dtype()) return ctx.error("w_zero_point has another dtype than w");
  const std::vector<int64_t> xi = tensor_as_int64s(x), wi = tensor_as_int64s(w);
  std::vector<uint64_t> xv(xi.size()), wv(wi.size());
  const int64_t x0 = static_cast<int64_t>(xzp[0]);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<uint64_t>(xi[i] - x0);
  const int64_t per_m = g.M > 0 ? static_cast<int64_t>(wi.size()) / g.M : 0;
  for (size_t i = 0; i < wv.size(); ++i) {
    wv[i] = static_cast<uint64_t>(
        wi[i] - static_cast<int64_t>(wzp[static_cast<size_t>(static_cast<int64_t>(i) / per_m)]));
  }
  std::vector<uint64_t> acc(static_cast<size_t>(element_count(out_dims)), 0);
  if (bias) {
    if (bias->dtype() != DataType::kInt32 || bias->rank() != 1 || bias->dim(0) != g.M) {
      return ctx.error(
          fmt::format("input 'B' {} must be int32 with {} values", bias->describe(), g.M));
    }
    const int32_t* bp = bias->data_as<int32_t>();
    const int64_t os = g.out_size();
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t m = 0; m < g.M; ++m) {
        std::fill_n(acc.begin() + (n * g.M + m) * os, os,
                    static_cast<uint64_t>(static_cast<int64_t>(bp[m])));
      }
    }
  }
  conv_forward(g, xv.data(), wv.data(), acc.data());
  return acc;
}

}  // namespace kiln
