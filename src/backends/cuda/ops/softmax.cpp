// Softmax and LogSoftmax on kernels/softmax.h, which normalizes the rows of [rows, cols], for
// float32, float16 and bfloat16. From opset 13 the op normalizes along one axis: that is a row
// when every dim after the axis is 1 (the last axis, as attention and classifiers use it); other
// axes run the reference. Before opset 13 the input is coerced to 2-D ([dims before axis],
// [dims from axis on]) and normalized along the second: rows of the kernel for every axis.
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/softmax.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln::cuda {

namespace {

bool coerces_2d(const Node& n) { return n.opset < 13; }
int64_t default_axis(const Node& n) { return coerces_2d(n) ? 1 : -1; }

bool supported(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || !node_float_types(n)) return false;
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank) return false;
  const int64_t r = static_cast<int64_t>(*rank);
  int64_t axis = n.attrs.get_int("axis", default_axis(n));
  if (coerces_2d(n)) return axis >= -r && axis <= r;  // the reference's range for the 2-D view
  if (axis < -r || axis >= r) return false;
  if (axis < 0) axis += r;
  for (size_t d = static_cast<size_t>(axis) + 1; d < *rank; ++d) {
    if (known_dim(n.input(0), d) != 1) return false;
  }
  return true;
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const Node& n, bool log) : log_(log), coerce_2d_(coerces_2d(n)), axis_(n.attrs.get_int("axis", default_axis(n))) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    const int64_t rank = x->rank();
    int64_t axis = axis_;
    if (coerce_2d_ ? (axis < -rank || axis > rank) : (axis < -rank || axis >= rank)) {
      return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
    }
    if (axis < 0) axis += rank;
    const AxisSplit s = split_at_axis(x->shape(), axis, coerce_2d_);
    if (s.inner != 1 && s.outer * s.len != 0) {
      return ctx.unsupported_error(fmt::format("softmax over axis {} of {} is not over rows; the cuda kernel takes rows only", axis, x->describe()));
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    const cudaError_t e = log_ ? log_softmax(x->data(), y->data(), x->dtype(), s.outer, s.len, stream_of(ctx))
                               : softmax(x->data(), y->data(), x->dtype(), s.outer, s.len, stream_of(ctx));
    return launch_status(ctx, e);
  }

 private:
  bool log_;
  bool coerce_2d_;
  int64_t axis_;
};

KernelEntry entry(const char* op, const char* name, bool log) {
  KernelEntry e;
  e.op_type = op;
  e.name = name;
  e.supports = supported;
  e.create = [log](const Node& n) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<SoftmaxKernel>(n, log)); };
  return e;
}

}  // namespace

std::vector<KernelEntry> softmax_entries() {
  return {entry("Softmax", "cuda_softmax", false), entry("LogSoftmax", "cuda_log_softmax", true)};
}

}  // namespace kiln::cuda
