#include <cfloat>
#include <limits>
#include <type_traits>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"
#include "fmt/format.h"

namespace kiln {

namespace {

// Reads the bound in optional input i (a one-element tensor of x's dtype), else `def`.
template <typename T>
Result<compute_t<T>> read_bound(KernelContext& ctx, size_t i, DataType dtype, compute_t<T> def) {
  const Tensor* b = ctx.input(i);
  if (b == nullptr) return def;
  const char* name = i == 1 ? "min" : "max";
  if (b->dtype() != dtype) {
    return ctx.error(fmt::format("input {} '{}' has dtype {}, expected {}", i, name,
                                 dtype_name(b->dtype()), dtype_name(dtype)));
  }
  if (b->numel() != 1) {
    return ctx.error(fmt::format("input {} '{}' has shape {}, expected a scalar", i, name,
                                 dims_to_string(b->shape())));
  }
  return static_cast<compute_t<T>>(b->data_as<T>()[0]);
}

}  // namespace

Status ref_clip(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  const bool bounds_are_attrs = ctx.node().opset < 11;
  return dispatch_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if (bounds_are_attrs) {
      if constexpr (std::is_floating_point_v<C>) {
        // Opset 6 defaults are float32's limits, whatever the input type.
        lo = static_cast<C>(ctx.attrs().get_float("min", -FLT_MAX));
        hi = static_cast<C>(ctx.attrs().get_float("max", FLT_MAX));
      } else {
        return ctx.error(fmt::format("opset {} Clip takes float inputs, got {}", ctx.node().opset,
                                     dtype_name(x.dtype())));
      }
    } else {
      KILN_ASSIGN_OR_RETURN(lo, read_bound<T>(ctx, 1, x.dtype(), lo));
      KILN_ASSIGN_OR_RETURN(hi, read_bound<T>(ctx, 2, x.dtype(), hi));
    }
    // min(max(x, lo), hi) like numpy's clip: lo > hi gives hi everywhere; NaN stays NaN.
    return map_unary<T>(ctx, [&](C v) {
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      return v;
    });
  });
}

}  // namespace kiln
