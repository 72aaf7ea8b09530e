// LSTM (gates i, o, f, c in that order in W, R and B; peepholes P in order i, o, f):
//   it = f(Xt*Wi + Ht-1*Ri + Pi . Ct-1 + Wbi + Rbi)
//   ft = f(Xt*Wf + Ht-1*Rf + Pf . Ct-1 + Wbf + Rbf)     (1 - it with input_forget = 1)
//   ct = g(Xt*Wc + Ht-1*Rc + Wbc + Rbc)
//   Ct = ft . Ct-1 + it . ct
//   ot = f(Xt*Wo + Ht-1*Ro + Po . Ct + Wbo + Rbo)
//   Ht = ot . h(Ct)
// 'clip' bounds the input of every activation.
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/recurrent_common.h"
#include "fmt/format.h"

namespace kiln {

Status ref_lstm(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(RecurrentSetup s, recurrent_setup(ctx, 4, {"Sigmoid", "Tanh", "Tanh"}));
  const int64_t input_forget = ctx.attrs().get_int("input_forget", 0);
  if (input_forget != 0 && input_forget != 1) {
    return ctx.error(fmt::format("attribute 'input_forget' is {}, expected 0 or 1", input_forget));
  }
  const int64_t H = s.hidden;
  std::vector<double> y(static_cast<size_t>(s.seq * s.dirs * s.batch * H), 0.0);
  std::vector<double> yh = s.h0;
  std::vector<double> yc = s.c0;
  std::vector<double> nh(static_cast<size_t>(H)), nc(static_cast<size_t>(H));
  for (int64_t d = 0; d < s.dirs; ++d) {
    const RecurrentActivation& f = s.activations[static_cast<size_t>(d)][0];
    const RecurrentActivation& g = s.activations[static_cast<size_t>(d)][1];
    const RecurrentActivation& hf = s.activations[static_cast<size_t>(d)][2];
    const double* p = &s.p[static_cast<size_t>(d * 3 * H)];
    for (int64_t b = 0; b < s.batch; ++b) {
      double* h = &yh[static_cast<size_t>((d * s.batch + b) * H)];
      double* c = &yc[static_cast<size_t>((d * s.batch + b) * H)];
      const int64_t len = s.lens[static_cast<size_t>(b)];
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = s.is_reverse(d) ? len - 1 - step : step;
        auto pre = [&](int64_t gate, int64_t j) {
          const int64_t row = gate * H + j;
          return s.wx(4, d, row, t, b) + s.rh(4, d, row, h) + s.wb(4, d, row) + s.rb(4, d, row);
        };
        for (int64_t j = 0; j < H; ++j) {
          const double it = f(s.clipped(pre(0, j) + p[j] * c[j]));
          const double ft = input_forget ? 1 - it : f(s.clipped(pre(2, j) + p[2 * H + j] * c[j]));
          const double ct = g(s.clipped(pre(3, j)));
          const double cell = ft * c[j] + it * ct;
          const double ot = f(s.clipped(pre(1, j) + p[H + j] * cell));
          nc[static_cast<size_t>(j)] = cell;
          nh[static_cast<size_t>(j)] = ot * hf(s.clipped(cell));
        }
        for (int64_t j = 0; j < H; ++j) {
          h[j] = nh[static_cast<size_t>(j)];
          c[j] = nc[static_cast<size_t>(j)];
          y[static_cast<size_t>(((t * s.dirs + d) * s.batch + b) * H + j)] = h[j];
        }
      }
    }
  }
  return recurrent_store(ctx, s, y, {&yh, &yc});
}

}  // namespace kiln
