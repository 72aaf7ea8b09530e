// STFT: frame f starts at f * frame_step and takes the window's length of samples (zeros past
// the signal's end), weighted by the window (ones when omitted), then a DFT of frame_length
// points (zero-padded or truncated), as the ONNX reference implementation does.
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/signal_common.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status ref_stft(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (!dtype_is_float(x.dtype())) {
    return ctx.error(fmt::format("input 0 'signal' has dtype {}, expected a float type", dtype_name(x.dtype())));
  }
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2)) {
    return ctx.error(fmt::format("input 0 'signal' has shape {}, expected [batch, length, 1 or 2]",
                                 dims_to_string(x.shape())));
  }
  const int64_t batch = x.dim(0), len = x.dim(1), c = x.dim(2);
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> step_in, scalar_int_of(ctx, 1, "frame_step"));
  const int64_t step = step_in.value_or(0);
  if (step <= 0) return ctx.error(fmt::format("input 1 'frame_step' is {}, expected > 0", step));
  const Tensor* win = ctx.input(2);
  if (win && (win->rank() != 1 || win->dtype() != x.dtype())) {
    return ctx.error(fmt::format("input 2 'window' is {}, expected a rank-1 {} tensor", win->describe(),
                                 dtype_name(x.dtype())));
  }
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> fl_in, scalar_int_of(ctx, 3, "frame_length"));
  const int64_t fl = fl_in ? *fl_in : (win ? win->dim(0) : len);
  if (fl <= 0) return ctx.error(fmt::format("frame_length is {}, expected > 0", fl));
  if (len < fl) return ctx.error(fmt::format("the signal has {} samples, fewer than the frame length {}", len, fl));
  const int64_t wl = win ? win->dim(0) : fl;
  std::vector<double> w(static_cast<size_t>(wl), 1.0);
  if (win) {
    KILN_ASSIGN_OR_RETURN(w, read_doubles(*win));
  }
  const bool onesided = ctx.attrs().get_int("onesided", 1) != 0;
  const int64_t frames = 1 + (len - fl) / step;
  const int64_t bins = onesided ? fl / 2 + 1 : fl;

  KILN_ASSIGN_OR_RETURN(std::vector<double> in, read_doubles(x));
  std::vector<double> out(static_cast<size_t>(batch * frames * bins * 2), 0.0);
  std::vector<double> re(static_cast<size_t>(wl)), im(static_cast<size_t>(wl));
  std::vector<double> fre(static_cast<size_t>(fl)), fim(static_cast<size_t>(fl));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t j = 0; j < wl; ++j) {
        const int64_t s = f * step + j;
        const bool inside = s < len;
        const size_t base = static_cast<size_t>((b * len + s) * c);
        re[static_cast<size_t>(j)] = inside ? in[base] * w[static_cast<size_t>(j)] : 0.0;
        im[static_cast<size_t>(j)] = inside && c == 2 ? in[base + 1] * w[static_cast<size_t>(j)] : 0.0;
      }
      dft_1d(re.data(), im.data(), wl, fl, false, fre.data(), fim.data());
      for (int64_t k = 0; k < bins; ++k) {
        const size_t o = static_cast<size_t>(((b * frames + f) * bins + k) * 2);
        out[o] = fre[static_cast<size_t>(k)];
        out[o + 1] = fim[static_cast<size_t>(k)];
      }
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), {batch, frames, bins, 2}));
  return store_doubles(*y, out);
}

}  // namespace kiln
