// BlackmanWindow, HannWindow, HammingWindow: the same interface with different formulas, so
// they share one driver here. n runs over [0, size); the denominator N is size (periodic) or
// size - 1 (symmetric).
#include <cmath>
#include <numbers>

#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/signal_common.h"
#include "fmt/format.h"

namespace kiln {

namespace {

template <typename Formula>
Status run_window(KernelContext& ctx, Formula&& formula) {
  KILN_ASSIGN_OR_RETURN(DataType t, output_datatype_of(ctx));
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> size, scalar_int_of(ctx, 0, "size"));
  if (!size || *size < 0) return ctx.error(fmt::format("input 0 'size' is {}, expected >= 0", size ? *size : -1));
  const int64_t periodic = ctx.attrs().get_int("periodic", 1);
  const double denom = static_cast<double>(periodic ? *size : *size - 1);
  std::vector<double> v(static_cast<size_t>(*size));
  for (int64_t n = 0; n < *size; ++n) {
    // 2 pi n / N; a symmetric window of size 1 divides by zero: numpy gives nan there, and so do we.
    const double x = 2.0 * std::numbers::pi * static_cast<double>(n) / denom;
    v[static_cast<size_t>(n)] = formula(x);
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, t, {*size}));
  return store_doubles(*y, v);
}

}  // namespace

Status ref_blackman_window(KernelContext& ctx) {
  return run_window(ctx, [](double x) { return 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x); });
}

Status ref_hann_window(KernelContext& ctx) {
  return run_window(ctx, [](double x) {
    const double s = std::sin(x / 2);
    return s * s;
  });
}

Status ref_hamming_window(KernelContext& ctx) {
  return run_window(ctx, [](double x) {
    const double alpha = 25.0 / 46.0;
    return alpha - (1 - alpha) * std::cos(x);
  });
}

}  // namespace kiln
