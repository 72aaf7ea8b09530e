// DequantizeLinear: y = (x - x_zero_point) * x_scale in float32, stored in x_scale's dtype. x may
// also be float8 or int4/uint4 (opset 19/21): their values are exact in float32. For float8 the
// zero point is normally 0 (the ONNX reference insists on it); kiln applies the formula as written.
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

Status ref_dequantize_linear(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& scale = *ctx.input(1);
  const Tensor* zp = ctx.input(2);
  if (zp && zp->dtype() != x.dtype()) return ctx.error("x_zero_point has another dtype than x");
  if (!dtype_is_int(x.dtype()) && !dtype_is_lowbit(x.dtype()))
    return ctx.unsupported_error(fmt::format("input 'x' has dtype {}", dtype_name(x.dtype())));
  KILN_ASSIGN_OR_RETURN(QuantLayout q,
                        quant_layout_for(ctx, x, scale, zp, "x_scale", "x_zero_point"));
  const std::vector<double> sv = tensor_as_doubles(scale);
  const std::vector<double> zv = zp ? tensor_as_doubles(*zp) : std::vector<double>(sv.size(), 0.0);
  const std::vector<double> xv = tensor_as_doubles(x);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, scale.dtype(), x.shape()));
  return dispatch_scale(scale.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    S* yp = y->data_as<S>();
    for (size_t i = 0; i < xv.size(); ++i) {
      const size_t p = static_cast<size_t>(q.param_index(static_cast<int64_t>(i)));
      // float32 arithmetic (as the reference: x.astype(float32) - zp, times the scale).
      const float d = static_cast<float>(xv[i]) - static_cast<float>(zv[p]);
      yp[i] = S(d * static_cast<float>(sv[p]));
    }
    return ok_status();
  });
}

}  // namespace kiln
