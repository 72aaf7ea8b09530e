// QLinearMatMul: an exact integer matmul of the zero-point-shifted operands, then one multiplier
// a_scale * b_scale / y_scale per output element, computed in the scales' dtype (as ONNX's
// reference does), then round half to even, add y_zero_point, saturate.
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_qlinear_matmul(KernelContext& ctx) {
  static const char* kNames[] = {"a",       "a_scale",      "a_zero_point", "b",
                                 "b_scale", "b_zero_point", "y_scale",      "y_zero_point"};
  for (size_t i = 0; i < 8; ++i) {
    if (!ctx.input(i)) return ctx.error(fmt::format("input {} '{}' is required", i, kNames[i]));
  }
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(3);
  const Tensor& ys = *ctx.input(6);
  const Tensor& yz = *ctx.input(7);
  if (ctx.input(1)->dtype() != ys.dtype() || ctx.input(4)->dtype() != ys.dtype()) {
    return ctx.error("a_scale, b_scale and y_scale have different dtypes");
  }
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(ctx, a.shape(), b.shape()));
  KILN_ASSIGN_OR_RETURN(std::vector<double> azp,
                        expand_matmul_param(ctx, *ctx.input(2), a.shape(), true, kNames[2]));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bzp,
                        expand_matmul_param(ctx, *ctx.input(5), b.shape(), false, kNames[5]));
  KILN_ASSIGN_OR_RETURN(std::vector<double> asc,
                        expand_matmul_param(ctx, *ctx.input(1), a.shape(), true, kNames[1]));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bsc,
                        expand_matmul_param(ctx, *ctx.input(4), b.shape(), false, kNames[4]));
  // y's parameters: one value or broadcast over the output.
  KILN_ASSIGN_OR_RETURN(std::vector<double> ysc,
                        expand_matmul_param(ctx, ys, s.out, true, kNames[6]));
  KILN_ASSIGN_OR_RETURN(std::vector<double> yzp,
                        expand_matmul_param(ctx, yz, s.out, true, kNames[7]));

  const std::vector<int64_t> araw = tensor_as_int64s(a), braw = tensor_as_int64s(b);
  std::vector<uint64_t> av(araw.size()), bv(braw.size());
  for (size_t i = 0; i < av.size(); ++i)
    av[i] = static_cast<uint64_t>(araw[i] - static_cast<int64_t>(azp[i]));
  for (size_t i = 0; i < bv.size(); ++i)
    bv[i] = static_cast<uint64_t>(braw[i] - static_cast<int64_t>(bzp[i]));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, yz.dtype(), s.out));
  std::vector<uint64_t> c(static_cast<size_t>(y->numel()));
  matmul_acc(s, av.data(), bv.data(), c.data());
  return dispatch_scale(ys.dtype(), [&](auto stag) {
    using S = typename decltype(stag)::type;
    // Rounds to the scales' dtype after each operation.
    auto in_s = [](double v) {
      return static_cast<double>(static_cast<float>(S(static_cast<float>(v))));
    };
    return dispatch_quant(yz.dtype(), [&](auto qtag) {
      using Q = typename decltype(qtag)::type;
      Q* out = y->data_as<Q>();
      for (int64_t bi = 0; bi < s.batch; ++bi) {
        for (int64_t m = 0; m < s.M; ++m) {
          for (int64_t n = 0; n < s.N; ++n) {
            const size_t o = static_cast<size_t>((bi * s.M + m) * s.N + n);
            // The row's (column's) scale: any element of it along K (K may be 0: then c is 0).
            const double as =
                s.K > 0 ? asc[static_cast<size_t>(s.a_off[static_cast<size_t>(bi)] + m * s.K)]
                        : 1.0;
            const double bs =
                s.K > 0 ? bsc[static_cast<size_t>(s.b_off[static_cast<size_t>(bi)] + n)] : 1.0;
            const double mult = in_s(in_s(as * bs) / ysc[o]);
            const double v = static_cast<double>(static_cast<int64_t>(c[o])) * mult + yzp[o];
            out[o] = saturate_round<Q>(v);
          }
        }
      }
      return ok_status();
    });
  });
}

}  // namespace kiln
