#include <cmath>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Inference: y = (x - mean) * scale / sqrt(var + eps) + B per channel. Training (training_mode=1
// from opset 14, or statistics outputs requested before it): the batch's mean and (biased)
// variance normalize, and the outputs carry the momentum-updated running statistics.
Status ref_batch_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has shape {}, expected rank 2 or more", dims_to_string(x.shape())));
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, read_float_input(ctx, 1, "scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, read_float_input(ctx, 2, "B"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> mean, read_float_input(ctx, 3, "mean"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> var, read_float_input(ctx, 4, "var"));
  const int opset = ctx.node().opset;
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  const double momentum = ctx.attrs().get_float("momentum", 0.9f);
  // Before opset 14 training is implied by asking for the statistics outputs (unless is_test).
  bool wants_stats = false;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) wants_stats = wants_stats || wants_output(ctx, i);
  const bool training = opset >= 14 ? ctx.attrs().get_int("training_mode", 0) != 0
                                     : wants_stats && !(opset < 7 && ctx.attrs().get_int("is_test", 0) != 0);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = batch * channels > 0 ? x.numel() / (batch * channels) : 0;
  // Per-channel parameters, or (spatial=0 before opset 9) one per element of a sample.
  const bool per_element = opset < 9 && ctx.attrs().get_int("spatial", 1) == 0 && channels * inner != channels;
  const int64_t per_sample = per_element ? channels * inner : channels;
  static const char* const kNames[] = {"X", "scale", "B", "mean", "var"};
  const std::vector<double>* params[] = {nullptr, &scale, &bias, &mean, &var};
  for (size_t i = 1; i < 5; ++i) {
    if (static_cast<int64_t>(params[i]->size()) != per_sample) {
      return ctx.error(fmt::format("input {} '{}' has {} values, expected {}", i, kNames[i], params[i]->size(), per_sample));
    }
  }
  if (training && per_element) return ctx.unsupported_error("training mode with spatial=0");

  std::vector<double> use_mean = mean, use_var = var;
  std::vector<double> batch_mean, batch_var;
  if (training) {
    batch_mean.assign(static_cast<size_t>(channels), 0.0);
    batch_var.assign(static_cast<size_t>(channels), 0.0);
    std::vector<double> xs;
    KILN_RETURN_IF_ERROR(dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = x.data_as<T>();
      xs.resize(static_cast<size_t>(x.numel()));
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(static_cast<compute_t<T>>(in[i]));
      return ok_status();
    }));
    const double count = static_cast<double>(batch * inner);
    for (int64_t c = 0; c < channels; ++c) {
      double s = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 0; k < inner; ++k) s += xs[static_cast<size_t>((b * channels + c) * inner + k)];
      const double m = count > 0 ? s / count : 0.0;
      double ss = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 0; k < inner; ++k) {
          const double d = xs[static_cast<size_t>((b * channels + c) * inner + k)] - m;
          ss += d * d;
        }
      batch_mean[static_cast<size_t>(c)] = m;
      batch_var[static_cast<size_t>(c)] = count > 0 ? ss / count : 0.0;
    }
    use_mean = batch_mean;
    use_var = batch_var;
  }

  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  KILN_RETURN_IF_ERROR(dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t k = 0; k < inner; ++k) {
          const size_t p = static_cast<size_t>(per_element ? c * inner + k : c);
          const int64_t i = (b * channels + c) * inner + k;
          const double v = static_cast<double>(static_cast<compute_t<T>>(in[i]));
          const double r = (v - use_mean[p]) / std::sqrt(use_var[p] + eps) * scale[p] + bias[p];
          out[i] = static_cast<T>(static_cast<compute_t<T>>(r));
        }
      }
    }
    return ok_status();
  }));
  if (!wants_stats) return ok_status();

  // Statistics outputs: running mean/var (updated in training, passed through otherwise), then
  // before opset 14 the batch's own mean and variance.
  std::vector<double> run_mean = mean, run_var = var;
  if (training) {
    for (size_t c = 0; c < run_mean.size(); ++c) {
      run_mean[c] = mean[c] * momentum + batch_mean[c] * (1 - momentum);
      run_var[c] = var[c] * momentum + batch_var[c] * (1 - momentum);
    }
  }
  if (!training) {  // nothing was measured: the saved statistics are the given ones
    batch_mean = mean;
    batch_var = var;
  }
  const DataType stat_dt = opset >= 14 ? ctx.input(3)->dtype() : x.dtype();
  const Dims stat_dims = ctx.input(3)->shape();
  const std::vector<double>* stats[] = {&run_mean, &run_var, &batch_mean, &batch_var};
  for (size_t i = 1; i < ctx.num_outputs() && i < 5; ++i) {
    if (!wants_output(ctx, i)) continue;
    KILN_RETURN_IF_ERROR(write_float_output(ctx, i, stat_dt, stat_dims, *stats[i - 1]));
  }
  return ok_status();
}

}  // namespace kiln
