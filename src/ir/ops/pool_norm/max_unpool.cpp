// MaxUnpool: scatters X into zeros at the flat positions given by I (as MaxPool's Indices), over
// the shape (in-1)*stride - pads + kernel per spatial axis; an output_shape input, when given, is
// the final shape and that result is placed in its leading corner (what the ONNX tests expect).
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/pool_norm/pool_norm_infer.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_max_unpool(OpRegistry& r) {
  OpSchema s;
  s.op_type = "MaxUnpool";
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.infer = [](InferenceContext& ctx) -> Status {
    KILN_RETURN_IF_ERROR(check_float_input(ctx, 0));
    KILN_RETURN_IF_ERROR(check_min_rank(ctx, 0, 3));
    const DataType it = ctx.input_dtype(1);
    if (it != DataType::kUndefined && it != DataType::kInt64) {
      return ctx.error(fmt::format("input 1 'I' has dtype {}, expected int64", dtype_name(it)));
    }
    if (ctx.has_input(2)) {
      const DataType st = ctx.input_dtype(2);
      if (st != DataType::kUndefined && st != DataType::kInt64) {
        return ctx.error(fmt::format("input 2 'output_shape' has dtype {}, expected int64", dtype_name(st)));
      }
    }
    const MaybeShape& x = ctx.input_shape(0);
    const std::vector<int64_t> kernel = ctx.attrs().get_ints("kernel_shape");
    if (kernel.empty()) return ctx.error("attribute 'kernel_shape' is required");
    const size_t n = kernel.size();
    if (x && x->size() != n + 2) {
      return ctx.error(fmt::format("input 0 has rank {}, but kernel_shape has {} values (expected rank {})", x->size(), n, n + 2));
    }
    const std::vector<int64_t> strides = ctx.attrs().get_ints("strides", std::vector<int64_t>(n, 1));
    const std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * n, 0));
    if (strides.size() != n) return ctx.error(fmt::format("attribute 'strides' has {} values, expected {}", strides.size(), n));
    if (pads.size() != 2 * n) return ctx.error(fmt::format("attribute 'pads' has {} values, expected {}", pads.size(), 2 * n));
    for (size_t i = 0; i < n; ++i) {
      if (kernel[i] < 1 || strides[i] < 1 || pads[i] < 0 || pads[i + n] < 0) {
        return ctx.error(fmt::format("spatial axis {}: kernel {}, stride {} and pads {},{} must be positive (pads non-negative)",
                                     i, kernel[i], strides[i], pads[i], pads[i + n]));
      }
    }
    const DataType dt = ctx.input_dtype(0);
    if (ctx.has_input(2)) {
      if (const Tensor* v = ctx.input_value(2)) {
        auto dims = read_int64s(*v);
        if (!dims.ok()) return ctx.error("input 2 'output_shape': " + dims.status().message());
        if (dims->size() != n + 2) {
          return ctx.error(fmt::format("input 2 'output_shape' has {} values, expected {}", dims->size(), n + 2));
        }
        for (int64_t d : *dims) {
          if (d < 0) return ctx.error(fmt::format("input 2 'output_shape' has a negative dim {}", d));
        }
        ctx.set_output(0, dt, sym_shape(*dims));
      } else {
        ctx.set_output(0, dt, SymShape(n + 2, Dim::unknown()));
      }
      return ok_status();
    }
    SymShape out(n + 2, Dim::unknown());
    if (x) {
      out[0] = (*x)[0];
      out[1] = (*x)[1];
      for (size_t i = 0; i < n; ++i) {
        const Dim& d = (*x)[i + 2];
        if (!d.is_known()) continue;
        const int64_t o = (d.value - 1) * strides[i] - pads[i] - pads[i + n] + kernel[i];
        if (o < 0) return ctx.error(fmt::format("spatial axis {}: the unpooled size {} is negative", i, o));
        out[i + 2] = Dim::known(o);
      }
    }
    ctx.set_output(0, dt, out);
    return ok_status();
  };
  r.add(std::move(s));
}

}  // namespace kiln
