// ArgMax / ArgMin: one implementation, the comparison picked by a flag. Ties keep the first
// index unless select_last_index; a NaN counts as the extreme (numpy's argmax/argmin do so).
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "fmt/format.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln {
namespace {

Status arg_impl(KernelContext& ctx, bool is_max) {
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  if (rank == 0) return ctx.error("input 0 must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  const bool select_last = ctx.attrs().get_int("select_last_index", 0) != 0;
  if (x.dim(axis) == 0) return ctx.error(fmt::format("cannot reduce over axis {} of size 0", axis));
  Dims out_dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (i != axis) {
      out_dims.push_back(x.dim(i));
    } else if (keepdims) {
      out_dims.push_back(1);
    }
  }
  if (x.dtype() == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, out_dims));
  const AxisSplit s = split_at_axis(x.shape(), axis, false);
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* in = x.data_as<T>();
    int64_t* out = y->data_as<int64_t>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.len * s.inner + i;
        C best = static_cast<C>(in[base]);
        int64_t bi = 0;
        for (int64_t j = 1; j < s.len; ++j) {
          const C v = static_cast<C>(in[base + j * s.inner]);
          bool take;
          if (is_nan_value(best)) {
            take = select_last && is_nan_value(v);
          } else if (is_nan_value(v)) {
            take = true;
          } else {
            take = (is_max ? v > best : v < best) || (select_last && v == best);
          }
          if (take) {
            best = v;
            bi = j;
          }
        }
        out[o * s.inner + i] = bi;
      }
    }
    return ok_status();
  });
}

}  // namespace

Status ref_arg_max(KernelContext& ctx) { return arg_impl(ctx, true); }
Status ref_arg_min(KernelContext& ctx) { return arg_impl(ctx, false); }

}  // namespace kiln
