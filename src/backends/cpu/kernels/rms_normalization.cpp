// kiln.RMSNormalization (f32, docs/fused_ops.md): Y = X / sqrt(mean(X^2) + epsilon) * scale over
// the dims from `axis` on, fp32 statistics (norm_util.h). A scale that does not fit the
// normalized dims runs the reference, which reports it.
#include <cmath>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/norm_util.h"
#include "backends/reference/kernels/fused/fused_kernels.h"

namespace kiln::cpu {

namespace {

class RmsNormKernel final : public Kernel {
 public:
  explicit RmsNormKernel(const Node& n)
      : axis_(n.attrs.get_int("axis", -1)), epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    NormRows job;
    int64_t axis = 0;
    if (!scale || !norm_rows_view(x, axis_, epsilon_, job, axis))
      return ref_rms_normalization(ctx);
    // The spec lets scale broadcast within the normalized dims only, never reach the rows.
    if (scale->rank() > x->rank() - axis) return ref_rms_normalization(ctx);
    job.scale = per_column_params(*scale, x->shape(), axis, job.cols,
                                  norm_scratch(static_cast<size_t>(job.cols)));
    if (!job.scale) return ref_rms_normalization(ctx);
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    job.y = y->data_as<float>();
    job.rms = true;
    normalize_rows(job);
    return ok_status();
  }

 private:
  int64_t axis_;
  double epsilon_;
};

bool supported(const Node& n) {
  if (n.num_inputs() != 2 || n.num_outputs() != 1) return false;
  for (size_t i = 0; i < 2; ++i) {
    if (!n.input(i) || n.input(i)->dtype != DataType::kFloat32) return false;
  }
  const float eps = n.attrs.get_float("epsilon", 1e-5f);
  return eps >= 0;  // a negative (or NaN) epsilon is the reference's to report
}

}  // namespace

KernelEntry rms_normalization_entry() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "RMSNormalization";
  e.name = "cpu_rms_normalization";
  e.supports = supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<RmsNormKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
