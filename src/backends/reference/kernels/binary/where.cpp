// Where: out = condition ? X : Y with the three inputs broadcast together.
#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

Status ref_where(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(BroadcastPlan p, plan_broadcast(ctx, 0, 3));
  if (ctx.input(0)->dtype() != DataType::kBool) {
    return ctx.error(
        fmt::format("condition has dtype {}, expected bool", dtype_name(ctx.input(0)->dtype())));
  }
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 3));
  const DataType dt = ctx.input(1)->dtype();
  Status s = dispatch_all(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const bool* c = ctx.input(0)->data_as<bool>();
    const T* x = ctx.input(1)->data_as<T>();
    const T* y = ctx.input(2)->data_as<T>();
    KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, dt, p.out));
    T* o = out->data_as<T>();
    for_each_broadcast(p.out, p.ins, [&](int64_t i, const std::vector<int64_t>& off) {
      o[i] = c[off[0]] ? x[off[1]] : y[off[2]];
    });
    return ok_status();
  });
  return with_node(ctx, s);
}

}  // namespace kiln
