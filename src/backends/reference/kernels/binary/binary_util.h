// Helpers shared by the binary family's reference kernels: broadcasting plans (with the legacy
// opset < 7 axis placement), wrapping integer arithmetic and a two-input elementwise map.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/kernel.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// The output dims and each input's dims as they broadcast to it.
struct BroadcastPlan {
  Dims out;
  std::vector<Dims> ins;
};

// Plans inputs [first, first + count): all must be present; an error if they do not broadcast.
Result<BroadcastPlan> plan_broadcast(const KernelContext& ctx, size_t first, size_t count);
// An error unless inputs [first, end) all have one dtype.
Status check_same_dtype(const KernelContext& ctx, size_t first, size_t end);

// Names the node in an error that does not already (the dispatch helpers' dtype errors).
Status with_node(const KernelContext& ctx, const Status& s);

// Integer arithmetic wraps like numpy; it is done in an unsigned type at least as wide as int so
// that neither signed overflow nor promotion of small types to int is undefined.
template <typename T>
using wide_unsigned_t =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
T wrap_add(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <typename T>
T wrap_sub(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <typename T>
T wrap_mul(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}

// out[i] = fn(a[ia], b[ib]) over inputs 0 and 1 broadcast, output 0 of `out_dtype` (element type
// O).
template <typename A, typename B, typename O, typename Fn>
Status map_binary(KernelContext& ctx, DataType out_dtype, Fn&& fn) {
  KILN_ASSIGN_OR_RETURN(BroadcastPlan p, plan_broadcast(ctx, 0, 2));
  const A* pa = ctx.input(0)->data_as<A>();
  const B* pb = ctx.input(1)->data_as<B>();
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, out_dtype, p.out));
  O* po = y->data_as<O>();
  for_each_broadcast(p.out, p.ins, [&](int64_t i, const std::vector<int64_t>& off) {
    po[i] = fn(pa[off[0]], pb[off[1]]);
  });
  return ok_status();
}

}  // namespace kiln
