// Cast between float32, float16 and bfloat16 on kernels/pointwise.h's `cast` (through fp32,
// rounded to nearest-even once, as the reference rounds); a Cast to the same type is a
// device-to-device copy. The target type is read from the output value, which inference set from
// `to` in whichever form the opset writes it. Every other pair (integers, float64, float8, bool)
// runs the reference.
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/ops/cuda_ops.h"

namespace kiln::cuda {

namespace {

bool supported(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  return is_kernel_float(n.input(0)->dtype) && is_kernel_float(n.output(0)->dtype);
}

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(DataType to) : to_(to) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, to_, x->shape()));
    return launch_status(ctx, cast(x->data(), x->dtype(), y->data(), to_, x->numel(), stream_of(ctx)));
  }

 private:
  DataType to_;
};

}  // namespace

std::vector<KernelEntry> cast_entries() {
  KernelEntry e;
  e.op_type = "Cast";
  e.name = "cuda_cast";
  e.supports = supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<CastKernel>(n.output(0)->dtype));
  };
  return {e};
}

}  // namespace kiln::cuda
