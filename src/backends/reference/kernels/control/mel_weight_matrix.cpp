// MelWeightMatrix: triangular filters between num_mel_bins + 2 points spaced evenly on the mel
// scale (mel(f) = 2595 log10(1 + f / 700)) from lower_edge_hertz to upper_edge_hertz, each point
// mapped to the spectrogram bin floor((dft_length + 1) * f / sample_rate). This follows the ONNX
// reference implementation (and onnxruntime), including its mel step of range / (bins + 2).
#include <cmath>

#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/signal_common.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status ref_mel_weight_matrix(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(DataType t, output_datatype_of(ctx));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> bins_in, scalar_int_of(ctx, 0, "num_mel_bins"));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> dft_in, scalar_int_of(ctx, 1, "dft_length"));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> rate_in, scalar_int_of(ctx, 2, "sample_rate"));
  const int64_t bins = bins_in.value_or(0), dft = dft_in.value_or(0), rate = rate_in.value_or(0);
  if (bins <= 0) return ctx.error(fmt::format("input 0 'num_mel_bins' is {}, expected > 0", bins));
  if (dft <= 0) return ctx.error(fmt::format("input 1 'dft_length' is {}, expected > 0", dft));
  if (rate <= 0) return ctx.error(fmt::format("input 2 'sample_rate' is {}, expected > 0", rate));
  double edges[2];
  for (size_t i = 0; i < 2; ++i) {
    auto v = read_doubles(*ctx.input(3 + i));
    if (!v.ok() || v->size() != 1) {
      return ctx.error(fmt::format("input {} '{}' must hold one float value", 3 + i,
                                   i == 0 ? "lower_edge_hertz" : "upper_edge_hertz"));
    }
    edges[i] = (*v)[0];
  }
  const int64_t spec_bins = dft / 2 + 1;
  const int64_t points = bins + 2;
  const double low_mel = 2595.0 * std::log10(1.0 + edges[0] / 700.0);
  const double high_mel = 2595.0 * std::log10(1.0 + edges[1] / 700.0);
  const double step = (high_mel - low_mel) / static_cast<double>(points);
  std::vector<int64_t> point_bin(static_cast<size_t>(points));
  for (int64_t i = 0; i < points; ++i) {
    const double mel = static_cast<double>(i) * step + low_mel;
    const double hz = 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
    const double b = std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate));
    if (!std::isfinite(b) || b < 0 || b >= static_cast<double>(spec_bins)) {
      return ctx.error(fmt::format("mel point {} ({} Hz) falls outside the {} spectrogram bins (check the edges "
                                   "against sample_rate / 2)", i, hz, spec_bins));
    }
    point_bin[static_cast<size_t>(i)] = static_cast<int64_t>(b);
  }
  std::vector<double> out(static_cast<size_t>(spec_bins * bins), 0.0);
  auto at = [&](int64_t j, int64_t i) -> double& { return out[static_cast<size_t>(j * bins + i)]; };
  for (int64_t i = 0; i < bins; ++i) {
    const int64_t lo = point_bin[static_cast<size_t>(i)];
    const int64_t center = point_bin[static_cast<size_t>(i + 1)];
    const int64_t hi = point_bin[static_cast<size_t>(i + 2)];
    if (center == lo) {
      at(center, i) = 1.0;
    } else {
      for (int64_t j = lo; j <= center; ++j) at(j, i) = static_cast<double>(j - lo) / static_cast<double>(center - lo);
    }
    if (hi > center) {
      for (int64_t j = center; j < hi; ++j) at(j, i) = static_cast<double>(hi - j) / static_cast<double>(hi - center);
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, t, {spec_bins, bins}));
  return store_doubles(*y, out);
}

}  // namespace kiln
