// DFT along one axis, one line at a time with a plain O(n^2) sum (signal_common.cpp). Opset 17
// reads the axis attribute (default 1), opset 20 the optional axis input (default -2).
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/signal_common.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status ref_dft(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (!dtype_is_float(x.dtype())) {
    return ctx.error(fmt::format("input 0 has dtype {}, expected a float type", dtype_name(x.dtype())));
  }
  const int64_t r = x.rank();
  if (r < 2 || (x.dim(r - 1) != 1 && x.dim(r - 1) != 2)) {
    return ctx.error(fmt::format("input 0 has shape {}, expected rank >= 2 with last dim 1 or 2",
                                 dims_to_string(x.shape())));
  }
  int64_t axis = 1;
  if (ctx.node().opset >= 20) {
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> a, scalar_int_of(ctx, 2, "axis"));
    axis = a.value_or(-2);
  } else {
    axis = ctx.attrs().get_int("axis", 1);
  }
  const int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r - 2) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
  const int64_t len = x.dim(a);
  KILN_ASSIGN_OR_RETURN(std::optional<int64_t> dl, scalar_int_of(ctx, 1, "dft_length"));
  const int64_t n = dl.value_or(len);
  if (n <= 0) return ctx.error(fmt::format("dft_length is {}, expected > 0", n));
  const bool inverse = ctx.attrs().get_int("inverse", 0) != 0;
  const bool onesided = ctx.attrs().get_int("onesided", 0) != 0;
  const int64_t out_n = onesided ? n / 2 + 1 : n;

  Dims od = x.shape();
  od[static_cast<size_t>(a)] = out_n;
  od.back() = 2;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < a; ++i) outer *= x.dim(i);
  for (int64_t i = a + 1; i < r - 1; ++i) inner *= x.dim(i);
  const int64_t c = x.dim(r - 1);

  KILN_ASSIGN_OR_RETURN(std::vector<double> in, read_doubles(x));
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(element_count(od), 0)), 0.0);
  std::vector<double> re(static_cast<size_t>(len)), im(static_cast<size_t>(len));
  std::vector<double> fre(static_cast<size_t>(n)), fim(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < inner; ++k) {
      for (int64_t j = 0; j < len; ++j) {
        const size_t base = static_cast<size_t>(((o * len + j) * inner + k) * c);
        re[static_cast<size_t>(j)] = in[base];
        im[static_cast<size_t>(j)] = c == 2 ? in[base + 1] : 0.0;
      }
      dft_1d(re.data(), im.data(), len, n, inverse, fre.data(), fim.data());
      for (int64_t j = 0; j < out_n; ++j) {
        const size_t base = static_cast<size_t>(((o * out_n + j) * inner + k) * 2);
        out[base] = fre[static_cast<size_t>(j)];
        out[base + 1] = fim[static_cast<size_t>(j)];
      }
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), od));
  return store_doubles(*y, out);
}

}  // namespace kiln
