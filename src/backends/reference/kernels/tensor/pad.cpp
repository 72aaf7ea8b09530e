#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

namespace {

// The input coordinate an output coordinate reads along an axis of size n (-1: the constant).
int64_t pad_source(int64_t i, int64_t n, const std::string& mode) {
  if (i >= 0 && i < n) return i;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((i % n) + n) % n;
  if (mode == "reflect") {
    if (n == 1) return 0;
    const int64_t p = 2 * (n - 1);  // reflection repeats with this period
    const int64_t m = ((i % p) + p) % p;
    return m < n ? m : p - m;
  }
  return -1;
}

}  // namespace

Status ref_pad(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  const std::string mode = ctx.attrs().get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    return ctx.error(fmt::format("unknown mode '{}'", mode));
  }
  const size_t esize = dtype_size(x.dtype());
  std::vector<unsigned char> fill(esize, 0);
  std::vector<int64_t> pads;
  std::optional<std::vector<int64_t>> axes;
  if (opset < 11) {
    KILN_ASSIGN_OR_RETURN(pads, with_node_result(ctx, ctx.attrs().require_ints(opset < 2 ? "paddings" : "pads")));
    const double value = ctx.attrs().get_float("value", 0.0f);
    KILN_RETURN_IF_ERROR(dispatch_all(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T v = static_cast<T>(static_cast<compute_t<T>>(value));
      std::memcpy(fill.data(), &v, esize);
      return ok_status();
    }));
  } else {
    KILN_ASSIGN_OR_RETURN(pads, ints_input(ctx, 1, "pads"));
    if (const Tensor* cv = ctx.input(2)) {
      if (cv->dtype() != x.dtype()) {
        return ctx.error(fmt::format("input 2 'constant_value' is {}, expected dtype {}", cv->describe(),
                                     dtype_name(x.dtype())));
      }
      if (cv->numel() > 0) std::memcpy(fill.data(), cv->data(), esize);
    }
    if (ctx.has_input(3)) {
      KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 3, "axes"));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto w, with_node_result(ctx, pad_widths(pads, axes, x.rank())));
  Dims out = x.shape();
  for (size_t d = 0; d < out.size(); ++d) {
    const int64_t n = out[d];
    if (__builtin_add_overflow(n, w[d].first, &out[d]) || __builtin_add_overflow(out[d], w[d].second, &out[d])) {
      return ctx.error(fmt::format("pads of axis {} are too large", d));
    }
    if (out[d] < 0) return ctx.error(fmt::format("pads make axis {} negative ({})", d, out[d]));
    if (mode != "constant" && n == 0 && out[d] > 0) {
      return ctx.error(fmt::format("cannot pad the empty axis {} in mode '{}'", d, mode));
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  if (y->numel() == 0) return ok_status();
  std::vector<std::vector<int64_t>> maps(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    for (int64_t c = 0; c < out[d]; ++c) maps[d].push_back(pad_source(c - w[d].first, x.dim(static_cast<int64_t>(d)), mode));
  }
  gather_by_axis_maps(x.data(), x.shape(), esize, y->data(), out, maps, fill.data());
  return ok_status();
}

}  // namespace kiln
