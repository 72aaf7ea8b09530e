// The unary elementwise ops (activations and unary math) on kernels/pointwise.h's `unary`, for
// float32, float16 and bfloat16. Attributes are read when the kernel is made; Clip's bounds
// (inputs from opset 11 on) are read in host memory at run time.
#include <cfloat>
#include <string>

#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "core/float16.h"

namespace kiln::cuda {

namespace {

struct UnaryOpType {
  const char* op_type;
  UnaryKind kind;
};

const UnaryOpType kUnaryOps[] = {
    {"Relu", UnaryKind::kRelu},       {"LeakyRelu", UnaryKind::kLeakyRelu},
    {"Sigmoid", UnaryKind::kSigmoid}, {"Tanh", UnaryKind::kTanh},
    {"HardSigmoid", UnaryKind::kHardSigmoid}, {"HardSwish", UnaryKind::kHardSwish},
    {"Gelu", UnaryKind::kGelu},       {"Softplus", UnaryKind::kSoftplus},
    {"Clip", UnaryKind::kClip},       {"Exp", UnaryKind::kExp},
    {"Log", UnaryKind::kLog},         {"Sqrt", UnaryKind::kSqrt},
    {"Abs", UnaryKind::kAbs},         {"Neg", UnaryKind::kNeg},
    {"Erf", UnaryKind::kErf},         {"Reciprocal", UnaryKind::kReciprocal},
    {"Floor", UnaryKind::kFloor},     {"Ceil", UnaryKind::kCeil},
};

bool clip_bounds_are_inputs(const Node& n) { return n.op_type == "Clip" && n.opset >= 11; }

bool supported(const Node& n, UnaryKind kind) {
  if (n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || n.output(0)->dtype != n.input(0)->dtype) return false;
  if (clip_bounds_are_inputs(n)) {
    for (size_t i = 1; i < n.num_inputs(); ++i) {
      if (n.input(i) && n.input(i)->dtype != n.input(0)->dtype) return false;
    }
  } else if (n.num_inputs() != 1) {
    return false;
  }
  if (kind == UnaryKind::kGelu) {
    const std::string approximate = n.attrs.get_string("approximate", "none");
    return approximate == "none" || approximate == "tanh";
  }
  return true;
}

UnaryOp make_op(const Node& n, UnaryKind kind) {
  UnaryOp op;
  op.kind = kind;
  switch (kind) {
    case UnaryKind::kLeakyRelu: op.alpha = n.attrs.get_float("alpha", 0.01f); break;
    case UnaryKind::kHardSigmoid:
      op.alpha = n.attrs.get_float("alpha", 0.2f);
      op.beta = n.attrs.get_float("beta", 0.5f);
      break;
    case UnaryKind::kGelu:
      if (n.attrs.get_string("approximate", "none") == "tanh") op.kind = UnaryKind::kGeluTanh;
      break;
    case UnaryKind::kClip:
      op.alpha = clip_bounds_are_inputs(n) ? -FLT_MAX : n.attrs.get_float("min", -FLT_MAX);
      op.beta = clip_bounds_are_inputs(n) ? FLT_MAX : n.attrs.get_float("max", FLT_MAX);
      break;
    default: break;
  }
  return op;
}

// A scalar bound of Clip in host memory, as float.
Result<float> host_scalar(const KernelContext& ctx, const Tensor& t) {
  if (t.numel() != 1) return ctx.error("Clip's min and max must be scalars");
  switch (t.dtype()) {
    case DataType::kFloat32: return t.data_as<float>()[0];
    case DataType::kFloat16: return static_cast<float>(t.data_as<Float16>()[0]);
    case DataType::kBFloat16: return static_cast<float>(t.data_as<BFloat16>()[0]);
    default: return ctx.error("Clip's min and max must have the input's dtype");
  }
}

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(UnaryOp op, bool bound_inputs) : op_(op), bound_inputs_(bound_inputs) {}
  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    UnaryOp op = op_;
    if (bound_inputs_) {
      for (size_t i = 1; i < ctx.num_inputs() && i < 3; ++i) {
        if (!ctx.input(i)) continue;
        KILN_ASSIGN_OR_RETURN(float b, host_scalar(ctx, *ctx.input(i)));
        (i == 1 ? op.alpha : op.beta) = b;
      }
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    return launch_status(ctx, unary(op, x->data(), y->data(), x->dtype(), x->numel(), stream_of(ctx)));
  }

 private:
  UnaryOp op_;
  bool bound_inputs_;
};

}  // namespace

std::vector<KernelEntry> unary_entries() {
  std::vector<KernelEntry> out;
  for (const UnaryOpType& u : kUnaryOps) {
    KernelEntry e;
    e.op_type = u.op_type;
    e.name = std::string("cuda_") + u.op_type;
    const UnaryKind kind = u.kind;
    e.supports = [kind](const Node& n) { return supported(n, kind); };
    e.create = [kind](const Node& n) -> Result<std::unique_ptr<Kernel>> {
      return std::unique_ptr<Kernel>(std::make_unique<UnaryKernel>(make_op(n, kind), clip_bounds_are_inputs(n)));
    };
    if (u.kind == UnaryKind::kClip) e.host_inputs = {1, 2};
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cuda
