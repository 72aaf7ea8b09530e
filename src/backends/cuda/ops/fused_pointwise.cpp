// kiln.FusedPointwise (docs/fused_ops.md) on kernels/fused_pointwise.h, for float32, float16 and
// bfloat16: the node's steps are decoded once, when the kernel is made, into the kernel's program;
// a run only checks the operands' shapes and queues one launch. Nodes with more than
// kMaxFusedSteps steps or kMaxFusedOperands operands, float64, ranks above kMaxRank or steps the
// reference would reject run the reference (which reports the latter).
#include "backends/cuda/kernels/fused_pointwise_decode.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"

namespace kiln::cuda {

namespace {

Result<FusedPointwiseProgram> program_of(const Node& n) {
  KILN_ASSIGN_OR_RETURN(std::vector<PointwiseStep> steps, read_pointwise_steps(n.attrs, n.num_inputs()));
  FusedPointwiseProgram p;
  if (!decode_fused_pointwise(steps, &p)) return unsupported(fmt::format("{}: too many steps or operands for the cuda kernel", n.describe()));
  return p;
}

bool supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_inputs() > static_cast<size_t>(1 + kMaxFusedOperands) || n.num_outputs() != 1) return false;
  for (const Value* v : n.inputs()) {
    if (!v || !rank_at_most(v, kMaxRank)) return false;  // E1..En cannot be omitted
  }
  if (!n.output(0) || !is_kernel_float(n.input(0)->dtype) || !node_float_types(n)) return false;
  return program_of(n).ok();
}

// Each dim of `operand`, aligned right, is 1 or out's: it broadcasts to out without enlarging it.
bool fits_into(const Dims& operand, const Dims& out) {
  if (operand.size() > out.size()) return false;
  for (size_t k = 0; k < operand.size(); ++k) {
    const int64_t d = operand[operand.size() - 1 - k];
    if (d != 1 && d != out[out.size() - 1 - k]) return false;
  }
  return true;
}

class FusedPointwiseKernel final : public Kernel {
 public:
  explicit FusedPointwiseKernel(const FusedPointwiseProgram& program) : program_(program) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 'X' is required");
    if (x->rank() > kMaxRank) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    const void* operands[kMaxFusedOperands] = {};
    const int64_t* operand_dims[kMaxFusedOperands] = {};
    int operand_ranks[kMaxFusedOperands] = {};
    const int count = static_cast<int>(ctx.num_inputs()) - 1;
    if (count < 0 || count > kMaxFusedOperands) return ctx.error(fmt::format("{} operands, at most {} on cuda", count, kMaxFusedOperands));
    for (int k = 0; k < count; ++k) {
      const Tensor* e = ctx.input(static_cast<size_t>(k) + 1);
      if (!e) return ctx.error(fmt::format("input {} 'E{}' is missing", k + 1, k + 1));
      if (e->dtype() != x->dtype()) return ctx.error(fmt::format("input {} 'E{}' is {}, expected X's dtype", k + 1, k + 1, e->describe()));
      if (!fits_into(e->shape(), x->shape())) {
        return ctx.error(fmt::format("input {} 'E{}' {} does not broadcast to X's shape {} without enlarging it", k + 1, k + 1,
                                     e->describe(), dims_to_string(x->shape())));
      }
      operands[k] = e->data();
      operand_dims[k] = e->shape().data();
      operand_ranks[k] = static_cast<int>(e->rank());
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    return launch_status(ctx, fused_pointwise(program_, x->data(), x->shape().data(), static_cast<int>(x->rank()), operands,
                                              operand_dims, operand_ranks, count, y->data(), x->dtype(), stream_of(ctx)));
  }

 private:
  FusedPointwiseProgram program_;
};

}  // namespace

std::vector<KernelEntry> fused_pointwise_entries() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "FusedPointwise";
  e.name = "cuda_fused_pointwise";
  e.supports = supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    KILN_ASSIGN_OR_RETURN(FusedPointwiseProgram p, program_of(n));
    return std::unique_ptr<Kernel>(std::make_unique<FusedPointwiseKernel>(p));
  };
  return {e};
}

}  // namespace kiln::cuda
