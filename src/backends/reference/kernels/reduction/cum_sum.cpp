// CumSum along the axis in input 1. Floats accumulate in double and round once per output;
// integers wrap (unsigned 64-bit arithmetic truncated back), as numpy's cumsum does.
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln {

Status ref_cum_sum(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor* at = ctx.input(1);
  if (at == nullptr) return ctx.error("input 1 'axis' is required");
  if (at->numel() != 1 || at->rank() > 1) {
    return ctx.error(fmt::format("input 1 'axis' must be a scalar, got {}", at->describe()));
  }
  auto av = read_int64s(*at);
  if (!av.ok()) return ctx.error(fmt::format("input 1 'axis': {}", av.status().message()));
  const int64_t rank = x.rank();
  if (rank == 0) return ctx.error("input 0 must have rank >= 1");
  int64_t axis = (*av)[0];
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  const bool exclusive = ctx.attrs().get_int("exclusive", 0) != 0;
  const bool reverse = ctx.attrs().get_int("reverse", 0) != 0;
  if (x.dtype() == DataType::kBool) return ctx.unsupported_error("bool input is not supported");
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  const AxisSplit s = split_at_axis(x.shape(), axis, false);
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<kIsFloatElem<T>, double, uint64_t>;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.len * s.inner + i;
        Acc acc = 0;
        for (int64_t step = 0; step < s.len; ++step) {
          const int64_t j = reverse ? s.len - 1 - step : step;
          const int64_t off = base + j * s.inner;
          Acc v;
          if constexpr (kIsFloatElem<T>) {
            v = elem_to_double(in[off]);
          } else {
            v = static_cast<uint64_t>(static_cast<int64_t>(in[off]));
          }
          if (!exclusive) acc += v;
          if constexpr (kIsFloatElem<T>) {
            out[off] = elem_from_double<T>(acc);
          } else {
            out[off] = static_cast<T>(acc);
          }
          if (exclusive) acc += v;
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
