#include <type_traits>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_prelu(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x_ptr, required_input(ctx, 0));
  const Tensor& x = *x_ptr;
  KILN_ASSIGN_OR_RETURN(const Tensor* slope_ptr, required_input(ctx, 1));
  const Tensor& slope = *slope_ptr;
  if (slope.dtype() != x.dtype()) {
    return ctx.error(fmt::format("input 1 'slope' has dtype {}, expected {}",
                                 dtype_name(slope.dtype()), dtype_name(x.dtype())));
  }
  // slope must broadcast to x's shape (the output never grows beyond x). Like the ONNX
  // reference, a 1-D slope that does not broadcast but matches exactly one axis of x (a per-channel
  // slope [C] for NCHW) applies along that axis.
  auto broadcasts = [&](const Dims& sd) {
    if (sd.size() > x.shape().size()) return false;
    const size_t off = x.shape().size() - sd.size();
    for (size_t i = 0; i < sd.size(); ++i) {
      if (sd[i] != 1 && sd[i] != x.shape()[off + i]) return false;
    }
    return true;
  };
  Dims slope_dims = slope.shape();
  if (!broadcasts(slope_dims) && slope.rank() == 1) {
    Dims along(x.shape().size(), 1);
    int matches = 0;
    for (size_t i = 0; i < along.size(); ++i) {
      if (x.shape()[i] == slope.dim(0)) {
        along[i] = slope.dim(0);
        ++matches;
      }
    }
    if (matches == 1) slope_dims = along;
  }
  if (!broadcasts(slope_dims)) {
    return ctx.error(
        fmt::format("input 1 'slope' of shape {} does not broadcast to input 0 'X' of shape {}",
                    dims_to_string(slope.shape()), dims_to_string(x.shape())));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  return dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* xp = x.data_as<T>();
    const T* sp = slope.data_as<T>();
    T* out = y->data_as<T>();
    for_each_broadcast(x.shape(), {x.shape(), slope_dims},
                       [&](int64_t i, const std::vector<int64_t>& offs) {
                         const C v = static_cast<C>(xp[offs[0]]);
                         const C s = static_cast<C>(sp[offs[1]]);
                         if constexpr (std::is_floating_point_v<C>) {
                           out[i] = static_cast<T>(v < C(0) ? s * v : v);
                         } else if constexpr (std::is_signed_v<C>) {
                           out[i] = v < C(0) ? wrap_mul(s, v) : v;
                         } else {
                           out[i] = v;  // never negative
                         }
                       });
    return ok_status();
  });
}

}  // namespace kiln
