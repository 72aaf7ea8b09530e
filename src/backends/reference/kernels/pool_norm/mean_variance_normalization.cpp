#include <cmath>

#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// (x - mean) / (sqrt(var) + 1e-9), mean and variance over `axes`, for each index of the others.
Status ref_mean_variance_normalization(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.attrs().get_ints("axes", {0, 2, 3})) {
    if (a < -rank || a >= rank) return ctx.error(fmt::format("attribute 'axes' has axis {}, out of range for rank {}", a, rank));
    reduced[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  }
  // Each element's group: its multi-index over the kept axes, flattened.
  Dims kept_dims;
  for (int64_t d = 0; d < rank; ++d) kept_dims.push_back(reduced[static_cast<size_t>(d)] ? 1 : x.dim(d));
  const std::vector<int64_t> kept_strides = contiguous_strides(kept_dims);
  const int64_t groups = element_count(kept_dims);
  std::vector<int64_t> group_of(static_cast<size_t>(std::max<int64_t>(x.numel(), 0)));
  for_each_index(x.shape(), [&](int64_t lin, const std::vector<int64_t>& idx) {
    int64_t g = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      if (!reduced[d]) g += idx[d] * kept_strides[d];
    }
    group_of[static_cast<size_t>(lin)] = g;
  });
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    std::vector<double> sum(static_cast<size_t>(groups), 0.0), ss(static_cast<size_t>(groups), 0.0);
    std::vector<int64_t> count(static_cast<size_t>(groups), 0);
    for (size_t i = 0; i < group_of.size(); ++i) {
      sum[static_cast<size_t>(group_of[i])] += static_cast<double>(static_cast<C>(in[i]));
      ++count[static_cast<size_t>(group_of[i])];
    }
    for (size_t g = 0; g < sum.size(); ++g) sum[g] = count[g] > 0 ? sum[g] / static_cast<double>(count[g]) : 0.0;
    for (size_t i = 0; i < group_of.size(); ++i) {
      const double d = static_cast<double>(static_cast<C>(in[i])) - sum[static_cast<size_t>(group_of[i])];
      ss[static_cast<size_t>(group_of[i])] += d * d;
    }
    for (size_t i = 0; i < group_of.size(); ++i) {
      const size_t g = static_cast<size_t>(group_of[i]);
      const double sd = std::sqrt(ss[g] / static_cast<double>(count[g]));
      const double v = (static_cast<double>(static_cast<C>(in[i])) - sum[g]) / (sd + 1e-9);
      out[i] = static_cast<T>(static_cast<C>(v));
    }
    return ok_status();
  });
}

}  // namespace kiln
