#include <cmath>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Each (n, group) block of C/G channels x spatial is contiguous: normalize it (stats in double),
// then scale/shift with the channel's parameters (opset 21) or the group's (opset 18).
Status ref_group_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank 2 or more", dims_to_string(x.shape())));
  const int64_t groups = ctx.attrs().get_int("num_groups", 0);
  const int64_t channels = x.dim(1);
  if (groups < 1 || channels % groups != 0) {
    return ctx.error(fmt::format("attribute 'num_groups' is {}; it must be positive and divide the channel count {}", groups, channels));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, read_float_input(ctx, 1, "scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, read_float_input(ctx, 2, "bias"));
  // Opset 21 has per-channel parameters; opset 18 per-group ones (per-channel is accepted too).
  const int64_t expected = ctx.node().opset >= 21 ? channels : groups;
  const int64_t have = static_cast<int64_t>(scale.size());
  if (have != static_cast<int64_t>(bias.size()) || (have != expected && have != channels)) {
    return ctx.error(fmt::format("scale and bias have {} and {} values, expected {}", scale.size(), bias.size(), expected));
  }
  const bool per_channel = have == channels;
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const int64_t cpg = channels / groups;
  const int64_t batch = x.dim(0);
  const int64_t inner = batch * channels > 0 ? x.numel() / (batch * channels) : 0;
  const int64_t block = cpg * inner;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t base = (b * groups + g) * block;
        double sum = 0;
        for (int64_t i = 0; i < block; ++i) sum += static_cast<double>(static_cast<C>(in[base + i]));
        const double mean = block > 0 ? sum / static_cast<double>(block) : 0.0;
        double ss = 0;
        for (int64_t i = 0; i < block; ++i) {
          const double d = static_cast<double>(static_cast<C>(in[base + i])) - mean;
          ss += d * d;
        }
        const double inv = 1.0 / std::sqrt((block > 0 ? ss / static_cast<double>(block) : 0.0) + eps);
        for (int64_t i = 0; i < block; ++i) {
          const size_t p = static_cast<size_t>(per_channel ? g * cpg + i / inner : g);
          const double v = (static_cast<double>(static_cast<C>(in[base + i])) - mean) * inv * scale[p] + bias[p];
          out[base + i] = static_cast<T>(static_cast<C>(v));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
