// DeformConv (2-D): for every output position and kernel tap, the sampling point moves by its
// offset and X is read there by bilinear interpolation (zero outside the image), scaled by the
// mask when given. Computed in double, rounded once on the store.
#include <cmath>

#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_deform_conv(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor& off = *ctx.input(2);
  const Tensor* b = ctx.input(3);
  const Tensor* mask = ctx.input(4);
  if (x.rank() != 4)
    return ctx.unsupported_error(
        fmt::format("only 2-D DeformConv is supported (X {})", x.describe()));
  for (const Tensor* t : {&w, &off, b, mask}) {
    if (t && t->dtype() != x.dtype()) return ctx.error("inputs have different dtypes");
  }
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(ConvGeom g, make_conv_geom(ctx, x.shape(), w.shape(), false, out_dims));
  const int64_t og = ctx.attrs().get_int("offset_group", 1);
  if (og < 1 || g.C % og != 0) {
    return ctx.error(fmt::format(
        "attribute 'offset_group' {} must be >= 1 and divide the {} input channels", og, g.C));
  }
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2], KH = g.k[1], KW = g.k[2];
  const Dims want_off{g.N, og * KH * KW * 2, OH, OW};
  if (off.shape() != want_off) {
    return ctx.error(fmt::format("input 2 'offset' {} should have shape [{}]", off.describe(),
                                 dims_to_string(want_off)));
  }
  const Dims want_mask{g.N, og * KH * KW, OH, OW};
  if (mask && mask->shape() != want_mask) {
    return ctx.error(fmt::format("input 4 'mask' {} should have shape [{}]", mask->describe(),
                                 dims_to_string(want_mask)));
  }
  if (b && (b->rank() != 1 || b->dim(0) != g.M)) {
    return ctx.error(fmt::format("input 3 'B' {} must be 1-D with {} values", b->describe(), g.M));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));
  const std::vector<double> xv = tensor_as_doubles(x), wv = tensor_as_doubles(w),
                            ov = tensor_as_doubles(off);
  const std::vector<double> mv = mask ? tensor_as_doubles(*mask) : std::vector<double>{};
  const std::vector<double> bv = b ? tensor_as_doubles(*b) : std::vector<double>{};
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G, Cog = g.C / og;
  std::vector<double> acc(static_cast<size_t>(y->numel()), 0.0);
  const int64_t OS = OH * OW;
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t m = 0; m < g.M; ++m) {
      double* yp = acc.data() + (n * g.M + m) * OS;
      if (b) std::fill_n(yp, OS, bv[static_cast<size_t>(m)]);
      const int64_t grp = m / Mg;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const int64_t c = grp * Cg + cg;
        const int64_t o = c / Cog;  // offset group
        const double* xp = xv.data() + (n * g.C + c) * H * W;
        auto pixel = [&](int64_t r, int64_t q) {
          return r >= 0 && r < H && q >= 0 && q < W ? xp[r * W + q] : 0.0;
        };
        for (int64_t i = 0; i < KH; ++i) {
          for (int64_t j = 0; j < KW; ++j) {
            const double wt = wv[static_cast<size_t>(((m * Cg + cg) * KH + i) * KW + j)];
            const int64_t tap = (o * KH + i) * KW + j;
            const double* oh_p = ov.data() + (n * og * KH * KW * 2 + tap * 2) * OS;
            const double* ow_p = oh_p + OS;
            const double* mk = mask ? mv.data() + (n * og * KH * KW + tap) * OS : nullptr;
            for (int64_t oh = 0; oh < OH; ++oh) {
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t p = oh * OW + ow;
                const double hh = static_cast<double>(oh * g.s[1] - g.p[1] + i * g.d[1]) + oh_p[p];
                const double ww = static_cast<double>(ow * g.s[2] - g.p[2] + j * g.d[2]) + ow_p[p];
                if (!(hh > -1.0 && hh < static_cast<double>(H) && ww > -1.0 &&
                      ww < static_cast<double>(W)))
                  continue;
                const double h0f = std::floor(hh), w0f = std::floor(ww);
                const int64_t h0 = static_cast<int64_t>(h0f), w0 = static_cast<int64_t>(w0f);
                const double dh = hh - h0f, dw = ww - w0f;
                const double v = (1 - dh) * ((1 - dw) * pixel(h0, w0) + dw * pixel(h0, w0 + 1)) +
                                 dh * ((1 - dw) * pixel(h0 + 1, w0) + dw * pixel(h0 + 1, w0 + 1));
                yp[p] += wt * v * (mk ? mk[p] : 1.0);
              }
            }
          }
        }
      }
    }
  }
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y->data_as<T>();
    for (size_t i = 0; i < acc.size(); ++i)
      out[i] = static_cast<T>(static_cast<compute_t<T>>(acc[i]));
    return ok_status();
  });
}

}  // namespace kiln
