// GRU (gates z, r, h in that order in W, R and B):
//   zt = f(Xt*Wz + Ht-1*Rz + Wbz + Rbz),  rt = f(Xt*Wr + Ht-1*Rr + Wbr + Rbr)
//   ht = g(Xt*Wh + (rt . Ht-1)*Rh + Rbh + Wbh)        (linear_before_reset = 0)
//   ht = g(Xt*Wh + rt . (Ht-1*Rh + Rbh) + Wbh)        (linear_before_reset = 1)
//   Ht = (1 - zt) . ht + zt . Ht-1
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/recurrent_common.h"
#include "fmt/format.h"

namespace kiln {

Status ref_gru(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(RecurrentSetup s, recurrent_setup(ctx, 3, {"Sigmoid", "Tanh"}));
  const int64_t lbr = ctx.attrs().get_int("linear_before_reset", 0);
  if (lbr != 0 && lbr != 1) return ctx.error(fmt::format("attribute 'linear_before_reset' is {}, expected 0 or 1", lbr));
  const int64_t H = s.hidden;
  std::vector<double> y(static_cast<size_t>(s.seq * s.dirs * s.batch * H), 0.0);
  std::vector<double> yh = s.h0;
  std::vector<double> z(static_cast<size_t>(H)), rh(static_cast<size_t>(H)), next(static_cast<size_t>(H));
  for (int64_t d = 0; d < s.dirs; ++d) {
    const RecurrentActivation& f = s.activations[static_cast<size_t>(d)][0];
    const RecurrentActivation& g = s.activations[static_cast<size_t>(d)][1];
    for (int64_t b = 0; b < s.batch; ++b) {
      double* h = &yh[static_cast<size_t>((d * s.batch + b) * H)];
      const int64_t len = s.lens[static_cast<size_t>(b)];
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = s.is_reverse(d) ? len - 1 - step : step;
        for (int64_t j = 0; j < H; ++j) {
          const size_t u = static_cast<size_t>(j);
          z[u] = f(s.clipped(s.wx(3, d, j, t, b) + s.rh(3, d, j, h) + s.wb(3, d, j) + s.rb(3, d, j)));
          const int64_t rr = H + j;
          const double r = f(s.clipped(s.wx(3, d, rr, t, b) + s.rh(3, d, rr, h) + s.wb(3, d, rr) + s.rb(3, d, rr)));
          rh[u] = r;
        }
        for (int64_t j = 0; j < H; ++j) {
          const size_t u = static_cast<size_t>(j);
          const int64_t row = 2 * H + j;
          double pre = s.wx(3, d, row, t, b) + s.wb(3, d, row);
          if (lbr) {
            pre += rh[u] * (s.rh(3, d, row, h) + s.rb(3, d, row));
          } else {
            // (rt . Ht-1) * Rh^T for unit j
            const double* rrow = &s.r[static_cast<size_t>((d * 3 * H + row) * H)];
            double acc = 0;
            for (int64_t k = 0; k < H; ++k) acc += rrow[k] * rh[static_cast<size_t>(k)] * h[k];
            pre += acc + s.rb(3, d, row);
          }
          const double ht = g(s.clipped(pre));
          next[u] = (1 - z[u]) * ht + z[u] * h[j];
        }
        for (int64_t j = 0; j < H; ++j) {
          h[j] = next[static_cast<size_t>(j)];
          y[static_cast<size_t>(((t * s.dirs + d) * s.batch + b) * H + j)] = h[j];
        }
      }
    }
  }
  return recurrent_store(ctx, s, y, {&yh});
}

}  // namespace kiln
