// BitShift on unsigned integers; shifting by the bit width or more gives 0 (as numpy does), which
// C++ would leave undefined.
#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/binary/binary_util.h"

namespace kiln {

Status ref_bitshift(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  if (!ctx.input(0)) return ctx.error("input 0 is missing");
  const DataType dt = ctx.input(0)->dtype();
  if (!dtype_is_unsigned_int(dt)) {
    return ctx.error(
        fmt::format("input has dtype {}, expected an unsigned integer type", dtype_name(dt)));
  }
  const std::string dir = ctx.attrs().get_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") {
    return ctx.error(fmt::format("attribute 'direction' is '{}', expected LEFT or RIGHT", dir));
  }
  const bool left = dir == "LEFT";
  Status s = dispatch_int(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using U = wide_unsigned_t<T>;
    constexpr uint64_t kBits = sizeof(T) * 8;
    return map_binary<T, T, T>(ctx, dt, [&](T a, T b) -> T {
      if (static_cast<uint64_t>(b) >= kBits) return T(0);
      const unsigned n = static_cast<unsigned>(b);
      return static_cast<T>(left ? static_cast<U>(static_cast<U>(a) << n)
                                 : static_cast<U>(static_cast<U>(a) >> n));
    });
  });
  return with_node(ctx, s);
}

}  // namespace kiln
