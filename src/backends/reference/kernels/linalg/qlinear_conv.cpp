// QLinearConv: the integer convolution of ConvInteger plus the int32 bias, requantized per output
// channel with the multiplier x_scale * w_scale / y_scale computed in float32 (as ONNX's reference
// does), rounded half to even, plus y_zero_point, saturated.
#include "backends/reference/kernels/linalg/conv_core.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_qlinear_conv(KernelContext& ctx) {
  static const char* kNames[] = {"x",       "x_scale",      "x_zero_point", "w",
                                 "w_scale", "w_zero_point", "y_scale",      "y_zero_point"};
  for (size_t i = 0; i < 8; ++i) {
    if (!ctx.input(i)) return ctx.error(fmt::format("input {} '{}' is required", i, kNames[i]));
  }
  ConvGeom g;
  Dims out_dims;
  KILN_ASSIGN_OR_RETURN(std::vector<uint64_t> acc,
                        integer_conv(ctx, *ctx.input(0), *ctx.input(3), ctx.input(2), ctx.input(5),
                                     ctx.input(8), g, out_dims));
  KILN_ASSIGN_OR_RETURN(std::vector<double> xs,
                        per_channel(ctx, ctx.input(1), 1, "x_scale", false));
  KILN_ASSIGN_OR_RETURN(std::vector<double> ws,
                        per_channel(ctx, ctx.input(4), g.M, "w_scale", true));
  KILN_ASSIGN_OR_RETURN(std::vector<double> ys,
                        per_channel(ctx, ctx.input(6), 1, "y_scale", false));
  KILN_ASSIGN_OR_RETURN(std::vector<double> yz,
                        per_channel(ctx, ctx.input(7), 1, "y_zero_point", false));
  const DataType qt = ctx.input(7)->dtype();
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, qt, out_dims));
  return dispatch_quant(qt, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    Q* yp = y->data_as<Q>();
    const int64_t os = g.out_size();
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t m = 0; m < g.M; ++m) {
        const float mult = static_cast<float>(static_cast<float>(xs[0]) *
                                              static_cast<float>(ws[static_cast<size_t>(m)])) /
                           static_cast<float>(ys[0]);
        const size_t base = static_cast<size_t>((n * g.M + m) * os);
        for (int64_t i = 0; i < os; ++i) {
          const double r =
              static_cast<double>(static_cast<int32_t>(acc[base + static_cast<size_t>(i)]));
          yp[base + static_cast<size_t>(i)] =
              saturate_round<Q>(r * static_cast<double>(mult) + yz[0]);
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
