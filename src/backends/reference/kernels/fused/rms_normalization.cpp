// RMSNormalization: each row (the dims before `axis`) is divided by the root mean square of its
// elements (plus epsilon) and multiplied by scale, broadcast to the normalized dims. Statistics in
// double, rounded once on the store, as the LayerNormalization kernel does.
#include <cmath>

#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_rms_normalization(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  KILN_ASSIGN_OR_RETURN(const Tensor* scale_t, fused_required_input(ctx, 1, "scale"));
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 2));
  const int64_t rank = x->rank();
  if (rank < 1) return ctx.error("input 0 'X' is a scalar, expected rank 1 or more");
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  if (!(eps >= 0)) return ctx.error(fmt::format("attribute 'epsilon' is {}, expected >= 0", eps));
  const Dims normalized(x->shape().begin() + axis, x->shape().end());
  KILN_RETURN_IF_ERROR(fused_check_fits(ctx, scale_t, normalized, "input 1 'scale' (to the normalized dims)"));
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, read_float_input(ctx, 1, "scale"));
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? rows : cols) *= x->dim(d);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  return dispatch_float(x->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x->data_as<T>();
    T* out = y->data_as<T>();
    std::vector<double> rms(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double v = static_cast<double>(static_cast<C>(in[r * cols + i]));
        ss += v * v;
      }
      rms[static_cast<size_t>(r)] = std::sqrt(ss / static_cast<double>(cols) + eps);
    }
    for_each_broadcast(x->shape(), {scale_t->shape()}, [&](int64_t i, const std::vector<int64_t>& off) {
      const double v = static_cast<double>(static_cast<C>(in[i])) / rms[static_cast<size_t>(i / cols)] *
                       scale[static_cast<size_t>(off[0])];
      out[i] = static_cast<T>(static_cast<C>(v));
    });
    return ok_status();
  });
}

}  // namespace kiln
