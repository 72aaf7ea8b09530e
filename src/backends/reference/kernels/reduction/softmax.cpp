// Softmax, LogSoftmax and Hardmax: one implementation over the [outer, len, inner] view (see
// split_at_axis), in double, rounded once. Before opset 13 the view is the coerced 2D one.
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "fmt/format.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

Status softmax_impl(KernelContext& ctx, SoftmaxKind kind) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  const bool coerce_2d = opset < 13;
  const int64_t rank = x.rank();
  int64_t axis = ctx.attrs().get_int("axis", coerce_2d ? 1 : -1);
  if (coerce_2d ? (axis < -rank || axis > rank) : (axis < -rank || axis >= rank)) {
    return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  }
  if (axis < 0) axis += rank;
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  const AxisSplit s = split_at_axis(x.shape(), axis, coerce_2d);
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.len * s.inner + i;
        auto at = [&](int64_t j) { return base + j * s.inner; };
        if (s.len == 0) continue;
        double mx = elem_to_double(in[at(0)]);
        int64_t arg = 0;  // first index of the max (Hardmax)
        for (int64_t j = 1; j < s.len; ++j) {
          const double v = elem_to_double(in[at(j)]);
          if (v > mx) {
            mx = v;
            arg = j;
          }
        }
        if (kind == SoftmaxKind::kHardmax) {
          for (int64_t j = 0; j < s.len; ++j) out[at(j)] = elem_from_double<T>(j == arg ? 1.0 : 0.0);
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < s.len; ++j) sum += std::exp(elem_to_double(in[at(j)]) - mx);
        for (int64_t j = 0; j < s.len; ++j) {
          const double d = elem_to_double(in[at(j)]) - mx;
          out[at(j)] = elem_from_double<T>(kind == SoftmaxKind::kSoftmax ? std::exp(d) / sum : d - std::log(sum));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace

Status ref_softmax(KernelContext& ctx) { return softmax_impl(ctx, SoftmaxKind::kSoftmax); }
Status ref_log_softmax(KernelContext& ctx) { return softmax_impl(ctx, SoftmaxKind::kLogSoftmax); }
Status ref_hardmax(KernelContext& ctx) { return softmax_impl(ctx, SoftmaxKind::kHardmax); }

}  // namespace kiln
