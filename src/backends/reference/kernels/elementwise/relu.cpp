#include <type_traits>

#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/elementwise/elementwise_util.h"

namespace kiln {

Status ref_relu(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>) {
      return v;
    } else {
      return v < C(0) ? C(0) : v;  // keeps NaN, like numpy's maximum(x, 0)
    }
  });
}

}  // namespace kiln
