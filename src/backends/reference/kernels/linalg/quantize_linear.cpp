// QuantizeLinear: the scale and zero point apply per tensor, per axis or per block (quant_layout).
// Float inputs divide in float (as the ONNX reference does), then round half to even, add the zero
// point and saturate. `saturate` only matters for float8 outputs, which kiln tensors do not hold.
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

Status ref_quantize_linear(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& scale = *ctx.input(1);
  const Tensor* zp = ctx.input(2);
  DataType out = DataType::kUInt8;
  const int64_t odt = ctx.node().opset >= 21 ? ctx.attrs().get_int("output_dtype", 0) : 0;
  if (zp) {
    out = zp->dtype();
  } else if (odt != 0) {
    out = static_cast<DataType>(odt);
  }
  KILN_ASSIGN_OR_RETURN(QuantLayout q,
                        quant_layout_for(ctx, x, scale, zp, "y_scale", "y_zero_point"));
  const std::vector<double> sv = tensor_as_doubles(scale);
  const std::vector<double> zv = zp ? tensor_as_doubles(*zp) : std::vector<double>(sv.size(), 0.0);
  const std::vector<double> xv = tensor_as_doubles(x);
  const bool int_x = x.dtype() == DataType::kInt32;
  if (!int_x && x.dtype() != DataType::kFloat32 && x.dtype() != DataType::kFloat16 &&
      x.dtype() != DataType::kBFloat16) {
    return ctx.unsupported_error(fmt::format("input 'x' has dtype {}", dtype_name(x.dtype())));
  }
  if (out == DataType::kInt32) return ctx.error("the quantized type cannot be int32");
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, out, x.shape()));
  return dispatch_quant(out, [&](auto tag) {
    using Q = typename decltype(tag)::type;
    Q* yp = y->data_as<Q>();
    for (size_t i = 0; i < xv.size(); ++i) {
      const size_t p = static_cast<size_t>(q.param_index(static_cast<int64_t>(i)));
      const double v =
          int_x ? xv[i] / sv[p]
                : static_cast<double>(static_cast<float>(xv[i]) / static_cast<float>(sv[p]));
      yp[i] = saturate_round<Q>(std::nearbyint(v) + zv[p]);
    }
    return ok_status();
  });
}

}  // namespace kiln
