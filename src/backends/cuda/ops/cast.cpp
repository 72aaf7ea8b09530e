// Cast and CastLike between float32, float16, bfloat16, int64, int32, int8, uint8 and bool: float
// pairs on kernels/pointwise.h's `cast` (through fp32, rounded to nearest-even once, as the
// reference rounds), every pair with an integer or bool side on kernels/cast.h's `cast_numeric`
// (the reference's truncation, wrap-around and saturation), a cast to the same type as a
// device-to-device copy. The target type is read from the output value, which inference set from
// `to` (or CastLike's second input) in whichever form the opset writes it. float64, float8, the
// 4-bit and the other integer types run the reference, and so does shape arithmetic (an int32 /
// int64 side of rank 0 or 1: the host computes it ahead of the run).
#include "backends/cuda/kernels/cast.h"
#include "backends/cuda/ops/cuda_ops.h"

namespace kiln::cuda {

namespace {

bool supported(const Node& n, size_t inputs) {
  if (n.num_inputs() != inputs || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  for (size_t i = 1; i < inputs; ++i) {
    if (!n.input(i)) return false;
  }
  const Value* x = n.input(0);
  const Value* y = n.output(0);
  if (!is_cast_type(x->dtype) || !is_cast_type(y->dtype)) return false;
  return !is_shape_arithmetic(x) && !is_shape_arithmetic(y);
}

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(DataType to) : to_(to) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, to_, x->shape()));
    return launch_status(ctx, cast_numeric(x->data(), x->dtype(), y->data(), to_, x->numel(), stream_of(ctx)));
  }

 private:
  DataType to_;
};

KernelEntry cast_entry(const char* op_type, const char* name, size_t inputs) {
  KernelEntry e;
  e.op_type = op_type;
  e.name = name;
  e.supports = [inputs](const Node& n) { return supported(n, inputs); };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<CastKernel>(n.output(0)->dtype));
  };
  return e;
}

}  // namespace

std::vector<KernelEntry> cast_entries() {
  // CastLike's second input only names the type (the output's dtype); its elements are not read.
  return {cast_entry("Cast", "cuda_cast", 1), cast_entry("CastLike", "cuda_cast_like", 2)};
}

}  // namespace kiln::cuda
