// Direct convolution loops shared by Conv, ConvInteger, QLinearConv (forward) and ConvTranspose.
// Spatial dims are padded to three (1-D and 2-D become 3-D with size-1 leading dims) so one loop
// nest serves all ranks. For each kernel tap the range of valid output positions is computed up
// front, so the innermost loop has no bounds checks: y_row[o] += w * x_row[o * stride].
#pragma once

#include <cstdint>
#include <vector>

#include "backends/kernel.h"
#include "ir/ops/linalg/conv_util.h"

namespace kiln {

struct ConvGeom {
  int64_t N = 1, C = 1, M = 1, G = 1;  // batch, input channels, output channels, groups
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};  // strides, dilations, leading pads
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
};

// Reads the conv attributes for X (x_dims) and W (w_dims), validates channels and groups, and
// returns the geometry and the output shape. `transpose`: ConvTranspose's layout (W is
// [C, M/group, k...]).
Result<ConvGeom> make_conv_geom(const KernelContext& ctx, const Dims& x_dims, const Dims& w_dims,
                                bool transpose, Dims& out_dims);

// Conv (transpose = false) and ConvTranspose on float tensors: double accumulators starting from
// the bias, rounded once on the store.
Status run_float_conv(KernelContext& ctx, bool transpose);

// A per-tensor (one value) or, when allow_channels, per-output-channel ([M]) parameter as M values;
// zeros when t is null.
Result<std::vector<double>> per_channel(const KernelContext& ctx, const Tensor* t, int64_t M,
                                        const char* name, bool allow_channels);

// The integer convolution of (x - xz) and (w - wz) plus an optional int32 bias, in wrapping
// uint64 accumulators laid out as the output [N, M, out...]; fills g and out_dims.
Result<std::vector<uint64_t>> integer_conv(KernelContext& ctx, const Tensor& x, const Tensor& w,
                                           const Tensor* xz, const Tensor* wz, const Tensor* bias,
                                           ConvGeom& g, Dims& out_dims);

namespace conv_detail {
// The range [lo, hi) of positions o in [0, count) with 0 <= o * s + off < bound.
inline void tap_range(int64_t off, int64_t s, int64_t bound, int64_t count, int64_t& lo,
                      int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = bound - 1 - off < 0 ? 0 : (bound - 1 - off) / s + 1;
  if (hi > count) hi = count;
  if (lo > hi) lo = hi;
}
}  // namespace conv_detail

// y [N, M, out] += conv(x [N, C, in], w [M, C/G, k]).
template <typename A>
void conv_forward(const ConvGeom& g, const A* x, const A* w, A* y) {
  using conv_detail::tap_range;
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G;
  const int64_t IS = g.in_size(), OS = g.out_size(), KS = g.k_size();
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t m = 0; m < g.M; ++m) {
      const int64_t grp = m / Mg;
      A* yp = y + (n * g.M + m) * OS;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const A* xp = x + (n * g.C + grp * Cg + cg) * IS;
        const A* wp = w + (m * Cg + cg) * KS;
        for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
          const int64_t off0 = k0 * g.d[0] - g.p[0];
          int64_t lo0, hi0;
          tap_range(off0, g.s[0], g.in[0], g.out[0], lo0, hi0);
          for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
            const int64_t off1 = k1 * g.d[1] - g.p[1];
            int64_t lo1, hi1;
            tap_range(off1, g.s[1], g.in[1], g.out[1], lo1, hi1);
            for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
              const int64_t off2 = k2 * g.d[2] - g.p[2];
              int64_t lo2, hi2;
              tap_range(off2, g.s[2], g.in[2], g.out[2], lo2, hi2);
              const A wv = wp[(k0 * g.k[1] + k1) * g.k[2] + k2];
              const int64_t s2 = g.s[2];
              for (int64_t o0 = lo0; o0 < hi0; ++o0) {
                const int64_t i0 = o0 * g.s[0] + off0;
                for (int64_t o1 = lo1; o1 < hi1; ++o1) {
                  const int64_t i1 = o1 * g.s[1] + off1;
                  const A* xr = xp + (i0 * g.in[1] + i1) * g.in[2] + off2;
                  A* yr = yp + (o0 * g.out[1] + o1) * g.out[2];
                  for (int64_t o2 = lo2; o2 < hi2; ++o2) yr[o2] += wv * xr[o2 * s2];
                }
              }
            }
          }
        }
      }
    }
  }
}

// y [N, M, out] += conv_transpose(x [N, C, in], w [C, M/G, k]): each input element scatters
// through the kernel into the output.
template <typename A>
void conv_transpose_forward(const ConvGeom& g, const A* x, const A* w, A* y) {
  using conv_detail::tap_range;
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G;
  const int64_t IS = g.in_size(), OS = g.out_size(), KS = g.k_size();
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t m = 0; m < g.M; ++m) {
      const int64_t grp = m / Mg, mg = m % Mg;
      A* yp = y + (n * g.M + m) * OS;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const int64_t c = grp * Cg + cg;
        const A* xp = x + (n * g.C + c) * IS;
        const A* wp = w + (c * Mg + mg) * KS;
        for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
          const int64_t off0 = k0 * g.d[0] - g.p[0];
          int64_t lo0, hi0;
          tap_range(off0, g.s[0], g.out[0], g.in[0], lo0, hi0);
          for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
            const int64_t off1 = k1 * g.d[1] - g.p[1];
            int64_t lo1, hi1;
            tap_range(off1, g.s[1], g.out[1], g.in[1], lo1, hi1);
            for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
              const int64_t off2 = k2 * g.d[2] - g.p[2];
              int64_t lo2, hi2;
              tap_range(off2, g.s[2], g.out[2], g.in[2], lo2, hi2);
              const A wv = wp[(k0 * g.k[1] + k1) * g.k[2] + k2];
              const int64_t s2 = g.s[2];
              for (int64_t i0 = lo0; i0 < hi0; ++i0) {
                const int64_t o0 = i0 * g.s[0] + off0;
                for (int64_t i1 = lo1; i1 < hi1; ++i1) {
                  const int64_t o1 = i1 * g.s[1] + off1;
                  const A* xr = xp + (i0 * g.in[1] + i1) * g.in[2];
                  A* yr = yp + (o0 * g.out[1] + o1) * g.out[2] + off2;
                  for (int64_t i2 = lo2; i2 < hi2; ++i2) yr[i2 * s2] += wv * xr[i2];
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace kiln
