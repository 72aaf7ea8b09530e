// RNN: Ht = f(Xt*W^T + Ht-1*R^T + Wb + Rb).
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/recurrent_common.h"

namespace kiln {

Status ref_rnn(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(RecurrentSetup s, recurrent_setup(ctx, 1, {"Tanh"}));
  const int64_t H = s.hidden;
  std::vector<double> y(static_cast<size_t>(s.seq * s.dirs * s.batch * H), 0.0);
  std::vector<double> yh = s.h0;
  std::vector<double> next(static_cast<size_t>(H));
  for (int64_t d = 0; d < s.dirs; ++d) {
    const RecurrentActivation& f = s.activations[static_cast<size_t>(d)][0];
    for (int64_t b = 0; b < s.batch; ++b) {
      double* h = &yh[static_cast<size_t>((d * s.batch + b) * H)];
      const int64_t len = s.lens[static_cast<size_t>(b)];
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = s.is_reverse(d) ? len - 1 - step : step;
        for (int64_t j = 0; j < H; ++j) {
          next[static_cast<size_t>(j)] = f(s.clipped(s.wx(1, d, j, t, b) + s.rh(1, d, j, h) + s.wb(1, d, j) + s.rb(1, d, j)));
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
