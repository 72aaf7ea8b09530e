// TopK: a stable sort of each slice along `axis` (ties keep the lower index first, as the spec
// asks); NaN sorts as larger than every number. With sorted=0 the order is unspecified, so the
// sorted order serves.
#include <algorithm>
#include <numeric>
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln {

Status ref_top_k(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  int64_t k = 0;
  if (opset < 10) {
    KILN_ASSIGN_OR_RETURN(k, ctx.attrs().require_int("k"));
  } else {
    const Tensor* kt = ctx.input(1);
    if (kt == nullptr) return ctx.error("input 1 'K' is required from opset 10");
    if (kt->numel() != 1) return ctx.error(fmt::format("input 1 'K' must hold one value, got {}", kt->describe()));
    auto kv = read_int64s(*kt);
    if (!kv.ok()) return ctx.error(fmt::format("input 1 'K': {}", kv.status().message()));
    k = (*kv)[0];
  }
  const int64_t rank = x.rank();
  if (rank == 0) return ctx.error("input 0 must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  if (k < 0 || k > x.dim(axis)) {
    return ctx.error(fmt::format("k is {}, expected 0..{} (the size of axis {})", k, x.dim(axis), axis));
  }
  const bool largest = opset < 11 || ctx.attrs().get_int("largest", 1) != 0;
  if (x.dtype() == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
  Dims out_dims = x.shape();
  out_dims[static_cast<size_t>(axis)] = k;
  KILN_ASSIGN_OR_RETURN(Tensor * values, ctx.allocate_output(0, x.dtype(), out_dims));
  KILN_ASSIGN_OR_RETURN(Tensor * indices, ctx.allocate_output(1, DataType::kInt64, out_dims));
  const AxisSplit s = split_at_axis(x.shape(), axis, false);
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    T* vout = values->data_as<T>();
    int64_t* iout = indices->data_as<int64_t>();
    // a before b in the output order (a strict weak order, NaN above every number).
    auto before = [&](C a, C b) {
      if (is_nan_value(a) || is_nan_value(b)) return largest ? (is_nan_value(a) && !is_nan_value(b))
                                                             : (!is_nan_value(a) && is_nan_value(b));
      return largest ? a > b : a < b;
    };
    std::vector<int64_t> order(static_cast<size_t>(s.len));
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.len * s.inner + i;
        std::iota(order.begin(), order.end(), int64_t{0});
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          return before(static_cast<C>(in[base + a * s.inner]), static_cast<C>(in[base + b * s.inner]));
        });
        for (int64_t j = 0; j < k; ++j) {
          const int64_t src = order[static_cast<size_t>(j)];
          vout[o * k * s.inner + j * s.inner + i] = in[base + src * s.inner];
          iout[o * k * s.inner + j * s.inner + i] = src;
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
