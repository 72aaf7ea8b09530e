// LayerNormalization (f32, opset 17): rows are the dims before `axis`, each normalized over the
// rest with fp32 statistics (norm_util.h), then scaled by Scale and shifted by B. Mean and
// InvStdDev are written when the node asks for them (float32 stash only; supports() leaves other
// stash types to the reference). Scale or B that vary across rows run the reference.
#include <cmath>

#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/norm_util.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"

namespace kiln::cpu {

namespace {

bool is_f32(const Value* v) { return v && v->dtype == DataType::kFloat32; }

bool wants(const Node& n, size_t i) { return n.output(i) != nullptr; }

class LayerNormKernel final : public Kernel {
 public:
  explicit LayerNormKernel(const Node& n)
      : axis_(n.attrs.get_int("axis", -1)), epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    NormRows job;
    int64_t axis = 0;
    if (!scale || !norm_rows_view(x, axis_, epsilon_, job, axis))
      return ref_layer_normalization(ctx);
    const int64_t rank = x->rank(), cols = job.cols;
    float* scratch = norm_scratch(static_cast<size_t>(2 * cols));
    job.scale = per_column_params(*scale, x->shape(), axis, cols, scratch);
    if (bias) job.bias = per_column_params(*bias, x->shape(), axis, cols, scratch + cols);
    if (!job.scale || (bias && !job.bias)) return ref_layer_normalization(ctx);
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    const bool want_mean = ctx.num_outputs() > 1 && wants(ctx.node(), 1);
    const bool want_inv = ctx.num_outputs() > 2 && wants(ctx.node(), 2);
    if (want_mean || want_inv) {
      Dims& stat = thread_dims(0);
      stat.assign(x->shape().begin(), x->shape().begin() + axis);
      stat.resize(static_cast<size_t>(rank), 1);
      if (want_mean) {
        KILN_ASSIGN_OR_RETURN(Tensor * m, ctx.allocate_output(1, DataType::kFloat32, stat));
        job.mean = m->data_as<float>();
      }
      if (want_inv) {
        KILN_ASSIGN_OR_RETURN(Tensor * s, ctx.allocate_output(2, DataType::kFloat32, stat));
        job.inv_std = s->data_as<float>();
      }
    }
    job.y = y->data_as<float>();
    normalize_rows(job);
    return ok_status();
  }

 private:
  int64_t axis_;
  double epsilon_;
};

bool supported(const Node& n) {
  if (n.num_inputs() < 2 || n.num_inputs() > 3 || !is_f32(n.input(0)) || !is_f32(n.input(1)))
    return false;
  if (n.has_input(2) && !is_f32(n.input(2))) return false;
  if (n.num_outputs() > 3) return false;
  // An invalid stash_type is the reference's to report; statistics outputs in a dtype other
  // than float32 are the reference's to write. Y itself does not depend on it beyond rounding.
  const int64_t stash = n.attrs.get_int("stash_type", 1);
  if (stash != 1 && stash != 10 && stash != 11 && stash != 16) return false;
  return stash == 1 || !(wants(n, 1) || wants(n, 2));
}

}  // namespace

KernelEntry layer_normalization_entry() {
  KernelEntry e;
  e.op_type = "LayerNormalization";
  e.name = "cpu_layer_normalization";
  e.supports = supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<LayerNormKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
