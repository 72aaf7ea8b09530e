#include <cmath>

#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// y = x / (bias + alpha / size * sum of squares over channels
//          [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C)) ^ beta.
Status ref_lrn(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank 2 or more", dims_to_string(x.shape())));
  const int64_t size = ctx.attrs().get_int("size", 0);
  if (size < 1) return ctx.error(fmt::format("attribute 'size' is {}, expected a positive value", size));
  const double alpha = ctx.attrs().get_float("alpha", 1e-4f);
  const double beta = ctx.attrs().get_float("beta", 0.75f);
  const double bias = ctx.attrs().get_float("bias", 1.0f);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = batch * channels > 0 ? x.numel() / (batch * channels) : 0;
  const int64_t before = (size - 1) / 2, after = size / 2;  // floor and ceil of (size-1)/2
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(channels - 1, c + after);
        for (int64_t k = 0; k < inner; ++k) {
          double sq = 0;
          for (int64_t i = lo; i <= hi; ++i) {
            const double v = static_cast<double>(static_cast<C>(in[(b * channels + i) * inner + k]));
            sq += v * v;
          }
          const int64_t at = (b * channels + c) * inner + k;
          const double v = static_cast<double>(static_cast<C>(in[at]));
          out[at] = static_cast<T>(static_cast<C>(v / std::pow(bias + alpha / static_cast<double>(size) * sq, beta)));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
