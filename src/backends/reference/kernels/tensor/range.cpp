#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_range(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* start, required_input(ctx, 0, "start"));
  KILN_ASSIGN_OR_RETURN(const Tensor* limit, required_input(ctx, 1, "limit"));
  KILN_ASSIGN_OR_RETURN(const Tensor* delta, required_input(ctx, 2, "delta"));
  const DataType dt = start->dtype();
  for (const Tensor* t : {start, limit, delta}) {
    if (t->dtype() != dt) return ctx.error(fmt::format("inputs must share one dtype; got {} and {}", start->describe(), t->describe()));
    if (t->numel() != 1) return ctx.error(fmt::format("inputs must be scalars, got {}", t->describe()));
  }
  if (dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kInt16 && dt != DataType::kInt32 &&
      dt != DataType::kInt64) {
    return ctx.error(fmt::format("dtype {} is not one of float, double, int16, int32, int64", dtype_name(dt)));
  }
  return dispatch_numeric(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const T s = *start->data_as<T>(), l = *limit->data_as<T>(), d = *delta->data_as<T>();
    Result<int64_t> n = int64_t{0};
    if constexpr (std::is_floating_point_v<T>) {
      n = range_count_double(s, l, d, std::is_same_v<T, float>);
    } else {
      n = range_count_int(static_cast<int64_t>(s), static_cast<int64_t>(l), static_cast<int64_t>(d));
    }
    if (!n.ok()) return ctx.error(n.status().message());
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, {*n}));
    T* out = y->data_as<T>();
    for (int64_t i = 0; i < *n; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        out[i] = static_cast<T>(s + static_cast<T>(i) * d);
      } else {
        out[i] = static_cast<T>(static_cast<int64_t>(s) + i * static_cast<int64_t>(d));
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
