#include <cmath>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Per (n, c) plane: mean and biased variance over the spatial axes (in double), then
// y = (x - mean) / sqrt(var + eps) * scale[c] + B[c].
Status ref_instance_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank 2 or more", dims_to_string(x.shape())));
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, read_float_input(ctx, 1, "scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, read_float_input(ctx, 2, "B"));
  const int64_t channels = x.dim(1);
  if (static_cast<int64_t>(scale.size()) != channels || static_cast<int64_t>(bias.size()) != channels) {
    return ctx.error(fmt::format("scale and B have {} and {} values, expected {} (the channel count)", scale.size(),
                                 bias.size(), channels));
  }
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const int64_t planes = x.dim(0) * channels;
  const int64_t inner = planes > 0 ? x.numel() / planes : 0;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* src = in + pl * inner;
      double sum = 0;
      for (int64_t i = 0; i < inner; ++i) sum += static_cast<double>(static_cast<C>(src[i]));
      const double mean = inner > 0 ? sum / static_cast<double>(inner) : 0.0;
      double ss = 0;
      for (int64_t i = 0; i < inner; ++i) {
        const double d = static_cast<double>(static_cast<C>(src[i])) - mean;
        ss += d * d;
      }
      const double var = inner > 0 ? ss / static_cast<double>(inner) : 0.0;
      const double inv = 1.0 / std::sqrt(var + eps);
      const size_t c = static_cast<size_t>(pl % channels);
      for (int64_t i = 0; i < inner; ++i) {
        const double v = (static_cast<double>(static_cast<C>(src[i])) - mean) * inv * scale[c] + bias[c];
        out[pl * inner + i] = static_cast<T>(static_cast<C>(v));
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
