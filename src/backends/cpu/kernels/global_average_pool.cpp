// GlobalAveragePool (f32, NCHW and any rank >= 2): the mean of each (n, c) plane, a contiguous
// row of H·W·... floats, summed with the vector row sum (float partial sums, double across them;
// the reference accumulates in float, so results differ by rounding only). Planes are spread over
// threads; each is summed by one thread in a fixed order. Empty tensors run the reference.
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/pointwise.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kMinElementsPerThread = kMinStreamElementsPerThread;

bool supported(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  return n.input(0)->dtype == DataType::kFloat32 && n.output(0)->dtype == DataType::kFloat32;
}

class GlobalAveragePoolKernel final : public Kernel {
 public:
  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DataType::kFloat32 || x->rank() < 2 || x->numel() == 0) {
      return ref_global_average_pool(ctx);
    }
    thread_local Dims out;  // reused: no allocation once it has the capacity
    out.assign(x->shape().begin(), x->shape().end());
    for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out));
    struct Args {
      const VecKernels* k;
      const float* x;
      float* y;
      int64_t inner;
    } args{&vec_kernels(), x->data_as<float>(), y->data_as<float>(),
           x->numel() / (x->dim(0) * x->dim(1))};
    const Args* a = &args;
    const int64_t min_planes =
        args.inner >= kMinElementsPerThread ? 1 : kMinElementsPerThread / args.inner;
    parallel_for(x->dim(0) * x->dim(1), min_planes, [a](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        a->y[p] = static_cast<float>(a->k->sum(a->x + p * a->inner, a->inner) /
                                     static_cast<double>(a->inner));
      }
    });
    return ok_status();
  }
};

}  // namespace

KernelEntry global_average_pool_entry() {
  KernelEntry e;
  e.op_type = "GlobalAveragePool";
  e.name = "cpu_GlobalAveragePool";
  e.supports = supported;
  e.create = [](const Node&) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<GlobalAveragePoolKernel>());
  };
  return e;
}

}  // namespace kiln::cpu
