#include <cmath>

#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Rows are the leading axes before `axis`; each row is normalized over the rest (stats in
// double), then scaled and shifted by Scale and B broadcast to X.
Status ref_layer_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  if (rank < 1) return ctx.error("input 0 is a scalar, expected rank 1 or more");
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  const DataType stash_dt = static_cast<DataType>(ctx.attrs().get_int("stash_type", 1));
  if (stash_dt != DataType::kFloat32 && stash_dt != DataType::kFloat64 && stash_dt != DataType::kFloat16 &&
      stash_dt != DataType::kBFloat16) {
    return ctx.error(fmt::format("attribute 'stash_type' is {}, expected a float dtype code", static_cast<int>(stash_dt)));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, read_float_input(ctx, 1, "Scale"));
  std::vector<double> bias;
  Dims bias_dims;
  if (ctx.has_input(2)) {
    KILN_ASSIGN_OR_RETURN(bias, read_float_input(ctx, 2, "B"));
    bias_dims = ctx.input(2)->shape();
  } else {
    bias.assign(1, 0.0);
  }
  const Dims& scale_dims = ctx.input(1)->shape();
  for (const Dims* d : std::initializer_list<const Dims*>{&scale_dims, &bias_dims}) {
    bool ok = d->size() <= x.shape().size();
    for (size_t k = 0; ok && k < d->size(); ++k) {
      const int64_t pd = (*d)[d->size() - 1 - k], xd = x.shape()[x.shape().size() - 1 - k];
      ok = pd == 1 || pd == xd;
    }
    if (!ok) return ctx.error(fmt::format("Scale/B shape {} does not broadcast to X's shape {}", dims_to_string(*d), dims_to_string(x.shape())));
  }
  const double eps = ctx.attrs().get_float("epsilon", 1e-5f);
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? rows : cols) *= x.dim(d);

  std::vector<double> norm(static_cast<size_t>(x.numel()));
  std::vector<double> means(static_cast<size_t>(rows)), inv_stds(static_cast<size_t>(rows));
  KILN_RETURN_IF_ERROR(dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = in + r * cols;
      double sum = 0;
      for (int64_t i = 0; i < cols; ++i) sum += static_cast<double>(static_cast<compute_t<T>>(src[i]));
      const double mean = cols > 0 ? sum / static_cast<double>(cols) : 0.0;
      double ss = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const double d = static_cast<double>(static_cast<compute_t<T>>(src[i])) - mean;
        ss += d * d;
      }
      const double var = cols > 0 ? ss / static_cast<double>(cols) : 0.0;
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < cols; ++i) {
        norm[static_cast<size_t>(r * cols + i)] = (static_cast<double>(static_cast<compute_t<T>>(src[i])) - mean) * inv;
      }
      means[static_cast<size_t>(r)] = mean;
      inv_stds[static_cast<size_t>(r)] = inv;
    }
    return ok_status();
  }));

  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  KILN_RETURN_IF_ERROR(dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y->data_as<T>();
    for_each_broadcast(x.shape(), {scale_dims, bias_dims}, [&](int64_t i, const std::vector<int64_t>& offs) {
      const double v = norm[static_cast<size_t>(i)] * scale[static_cast<size_t>(offs[0])] + bias[static_cast<size_t>(offs[1])];
      out[i] = static_cast<T>(static_cast<compute_t<T>>(v));
    });
    return ok_status();
  }));
  Dims stat_dims(x.shape().begin(), x.shape().begin() + axis);
  stat_dims.resize(static_cast<size_t>(rank), 1);
  if (wants_output(ctx, 1)) KILN_RETURN_IF_ERROR(write_float_output(ctx, 1, stash_dt, stat_dims, means));
  if (wants_output(ctx, 2)) KILN_RETURN_IF_ERROR(write_float_output(ctx, 2, stash_dt, stat_dims, inv_stds));
  return ok_status();
}

}  // namespace kiln
