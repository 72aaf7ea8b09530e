// The unary elementwise ops (f32) on the vectorized bodies FusedPointwise's steps use
// (pointwise.h): the activations (Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Gelu,
// Softplus, Clip) and the unary math ops FusedPointwise can fuse (Exp, Log, Sqrt, Abs, Neg, Erf,
// Reciprocal, Floor, Ceil). They differ only in the function applied, so they share one kernel
// and one table, as the reference's unary math does. Attributes are read once when the kernel is
// made; Clip's bound inputs (opset 11 on) are read at run time.
#include <cfloat>
#include <string>
#include <vector>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/pointwise.h"
#include "backends/reference/kernels/elementwise/elementwise_kernels.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBlock = 8192;  // elements per block

struct UnaryEntry {
  const char* op_type;
  UnaryKind kind;
  KernelFn reference;
};

const UnaryEntry kUnaryOps[] = {
    {"Relu", UnaryKind::kRelu, ref_relu},
    {"LeakyRelu", UnaryKind::kLeakyRelu, ref_leaky_relu},
    {"Sigmoid", UnaryKind::kSigmoid, ref_sigmoid},
    {"Tanh", UnaryKind::kTanh, ref_tanh},
    {"HardSigmoid", UnaryKind::kHardSigmoid, ref_hard_sigmoid},
    {"HardSwish", UnaryKind::kHardSwish, ref_hard_swish},
    {"Gelu", UnaryKind::kGelu, ref_gelu},
    {"Softplus", UnaryKind::kSoftplus, ref_softplus},
    {"Clip", UnaryKind::kClip, ref_clip},
    {"Exp", UnaryKind::kExp, ref_exp},
    {"Log", UnaryKind::kLog, ref_log},
    {"Sqrt", UnaryKind::kSqrt, ref_sqrt},
    {"Abs", UnaryKind::kAbs, ref_abs},
    {"Neg", UnaryKind::kNeg, ref_neg},
    {"Erf", UnaryKind::kErf, ref_erf},
    {"Reciprocal", UnaryKind::kReciprocal, ref_reciprocal},
    {"Floor", UnaryKind::kFloor, ref_floor},
    {"Ceil", UnaryKind::kCeil, ref_ceil},
};

// Clip's bounds come from inputs 1 and 2 from opset 11 on.
bool clip_bounds_are_inputs(const Node& n) { return n.op_type == "Clip" && n.opset >= 11; }

bool supported(const Node& n, const UnaryEntry& e) {
  if (n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (n.input(0)->dtype != DataType::kFloat32 || n.output(0)->dtype != DataType::kFloat32)
    return false;
  if (clip_bounds_are_inputs(n)) {
    for (size_t i = 1; i < n.num_inputs(); ++i) {
      if (n.input(i) && n.input(i)->dtype != DataType::kFloat32) return false;
    }
  } else if (n.num_inputs() != 1) {
    return false;
  }
  if (e.kind == UnaryKind::kGelu) {
    const std::string approximate = n.attrs.get_string("approximate", "none");
    return approximate == "none" || approximate == "tanh";
  }
  return true;
}

// The op with its attributes (the ONNX defaults where absent).
UnaryOp make_op(const Node& n, const UnaryEntry& e) {
  UnaryOp op;
  op.kind = e.kind;
  switch (e.kind) {
    case UnaryKind::kLeakyRelu:
      op.alpha = n.attrs.get_float("alpha", 0.01f);
      break;
    case UnaryKind::kHardSigmoid:
      op.alpha = n.attrs.get_float("alpha", 0.2f);
      op.beta = n.attrs.get_float("beta", 0.5f);
      break;
    case UnaryKind::kGelu:
      if (n.attrs.get_string("approximate", "none") == "tanh") op.kind = UnaryKind::kGeluTanh;
      break;
    case UnaryKind::kClip:
      // Opset 6's defaults are float's limits, and so are the absent bound inputs' later.
      op.alpha = clip_bounds_are_inputs(n) ? -FLT_MAX : n.attrs.get_float("min", -FLT_MAX);
      op.beta = clip_bounds_are_inputs(n) ? FLT_MAX : n.attrs.get_float("max", FLT_MAX);
      break;
    default:
      break;
  }
  return op;
}

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(UnaryOp op, KernelFn reference, bool bound_inputs)
      : op_(op), reference_(reference), bound_inputs_(bound_inputs) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DataType::kFloat32) return reference_(ctx);
    UnaryOp op = op_;
    if (bound_inputs_) {
      // A bound that is not one float32 is the reference's error to report.
      for (size_t i = 1; i < ctx.num_inputs() && i < 3; ++i) {
        const Tensor* b = ctx.input(i);
        if (!b) continue;
        if (b->dtype() != DataType::kFloat32 || b->numel() != 1) return reference_(ctx);
        (i == 1 ? op.alpha : op.beta) = b->data_as<float>()[0];
      }
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    const float* xp = x->data_as<float>();
    float* yp = y->data_as<float>();
    const VecKernels& k = vec_kernels();
    const int64_t min_elements =
        unary_is_heavy(op.kind) ? kMinHeavyElementsPerThread : kMinStreamElementsPerThread;
    parallel_blocks(x->numel(), kBlock, min_elements / kBlock,
                    [&](int64_t s, int64_t e) { k.unary(op, xp + s, yp + s, e - s); });
    return ok_status();
  }

 private:
  UnaryOp op_;
  KernelFn reference_;
  bool bound_inputs_;
};

}  // namespace

std::vector<KernelEntry> unary_entries() {
  std::vector<KernelEntry> out;
  for (const UnaryEntry& u : kUnaryOps) {
    KernelEntry e;
    e.op_type = u.op_type;
    e.name = std::string("cpu_") + u.op_type;
    e.supports = [&u](const Node& n) { return supported(n, u); };
    e.create = [&u](const Node& n) -> Result<std::unique_ptr<Kernel>> {
      return std::unique_ptr<Kernel>(
          std::make_unique<UnaryKernel>(make_op(n, u), u.reference, clip_bounds_are_inputs(n)));
    };
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cpu
