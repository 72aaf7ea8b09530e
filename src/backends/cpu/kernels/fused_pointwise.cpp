// kiln.FusedPointwise (f32): the chain of unary and binary steps (docs/fused_ops.md) run block by
// block, so each block of kBlock elements stays in L1 through every step instead of the whole
// tensor streaming through memory once per step.
//
// The steps are decoded once when the kernel is made. Operands broadcast into X's shape in any
// numpy way: a step's operand is read as contiguous runs (same shape, a trailing-dims bias) or as
// one value per run (a scalar, a per-channel [C,1,1] scale), walked by for_each_run. Operands of
// rank above kMaxBroadcastRank, more than kMaxOperands operands, and anything the reference would
// reject (missing inputs, mixed dtypes, shapes that do not fit) run the reference kernel.
#include <vector>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/pointwise.h"
#include "backends/reference/kernels/fused/fused_kernels.h"

namespace kiln::cpu {

namespace {

// Elements per block: 8 KiB of output plus at most as much of each operand, well inside L1.
constexpr int64_t kBlock = 2048;
constexpr size_t kMaxOperands = 16;

struct Step {
  bool binary = false;
  UnaryOp unary;
  BinaryKind kind = BinaryKind::kAdd;
  size_t operand = 0;
  bool swapped = false;
};

bool decode(const Node& n, std::vector<Step>& out) {
  auto steps = read_pointwise_steps(n.attrs, n.num_inputs());
  if (!steps.ok()) return false;
  for (const PointwiseStep& s : *steps) {
    Step d;
    d.binary = s.binary();
    d.operand = s.operand;
    d.swapped = s.swapped;
    pointwise_step_ops(s, &d.unary, &d.kind);
    out.push_back(d);
  }
  return !out.empty();
}

bool supported(const Node& n) {
  if (n.num_inputs() == 0 || n.num_inputs() > kMaxOperands || n.num_outputs() != 1) return false;
  for (const Value* v : n.inputs()) {
    if (!v || v->dtype != DataType::kFloat32) return false;
  }
  if (!n.output(0) || n.output(0)->dtype != DataType::kFloat32) return false;
  std::vector<Step> steps;
  return decode(n, steps);
}

// How a step reads its operand over the output, per run.
struct Operand {
  const float* data = nullptr;
  bool full = false;    // X's shape: element i at data[i]
  bool scalar = false;  // one element
  BroadcastLayout layout;
};

class FusedPointwiseKernel final : public Kernel {
 public:
  explicit FusedPointwiseKernel(std::vector<Step> steps) : steps_(std::move(steps)) {
    // A thread is worth waking for fewer elements the more the chain computes per element: a
    // streaming step counts 1, a transcendental 8, Pow (a libm call per element) 16.
    int64_t cost = 0;
    for (const Step& s : steps_) {
      if (s.binary)
        cost += s.kind == BinaryKind::kPow ? 16 : 1;
      else
        cost += unary_is_heavy(s.unary.kind) ? 8 : 1;
    }
    const int64_t per_thread = kMinStreamElementsPerThread / cost;
    min_blocks_ =
        (per_thread > kMinHeavyElementsPerThread ? per_thread : kMinHeavyElementsPerThread) /
        kBlock;
  }

  Status run(KernelContext& ctx) const override {
    const size_t inputs = ctx.num_inputs();
    if (inputs == 0 || inputs > kMaxOperands) return ref_fused_pointwise(ctx);
    for (size_t i = 0; i < inputs; ++i) {
      const Tensor* t = ctx.input(i);
      if (!t || t->dtype() != DataType::kFloat32) return ref_fused_pointwise(ctx);
    }
    const Tensor& x = *ctx.input(0);
    Operand ops[kMaxOperands];
    for (size_t i = 1; i < inputs; ++i) {
      const Tensor& e = *ctx.input(i);
      Operand& o = ops[i];
      o.data = e.data_as<float>();
      const Dims* d = &e.shape();
      // The layout also checks that the operand fits X without enlarging it.
      if (!make_broadcast_layout(&d, 1, x.shape(), o.layout)) return ref_fused_pointwise(ctx);
      o.full = e.numel() == x.numel();
      o.scalar = e.numel() == 1;
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x.shape()));
    struct Args {
      const FusedPointwiseKernel* self;
      const float* x;
      float* y;
      const Operand* ops;
      const VecKernels* k;
    } args{this, x.data_as<float>(), y->data_as<float>(), ops, &vec_kernels()};
    const Args* a = &args;
    parallel_blocks(x.numel(), kBlock, min_blocks_, [a](int64_t s, int64_t e) {
      a->self->run_block(*a->k, a->x, a->y, a->ops, s, e);
    });
    return ok_status();
  }

 private:
  // Every step over output elements [s, e): the first reads X, the rest update y in place.
  void run_block(const VecKernels& k, const float* x, float* y, const Operand* ops, int64_t s,
                 int64_t e) const {
    const int64_t len = e - s;
    const float* in = x + s;
    float* out = y + s;
    for (const Step& st : steps_) {
      if (!st.binary) {
        k.unary(st.unary, in, out, len);
      } else {
        const Operand& o = ops[st.operand];
        if (o.full) {
          if (st.swapped)
            k.binary(st.kind, o.data + s, in, out, len);
          else
            k.binary(st.kind, in, o.data + s, out, len);
        } else if (o.scalar) {
          if (st.swapped)
            k.binary_sv(st.kind, o.data[0], in, out, len);
          else
            k.binary_vs(st.kind, in, o.data[0], out, len);
        } else {
          for_each_run(o.layout, s, e,
                       [&](int64_t pos, int64_t n, const int64_t* off, const int64_t* step) {
                         const float* v = in + (pos - s);
                         float* w = out + (pos - s);
                         const float* od = o.data + off[0];
                         if (step[0]) {
                           if (st.swapped)
                             k.binary(st.kind, od, v, w, n);
                           else
                             k.binary(st.kind, v, od, w, n);
                         } else {
                           if (st.swapped)
                             k.binary_sv(st.kind, *od, v, w, n);
                           else
                             k.binary_vs(st.kind, v, *od, w, n);
                         }
                       });
        }
      }
      in = out;
    }
  }

  std::vector<Step> steps_;
  int64_t min_blocks_ = 1;  // blocks a thread must have
};

}  // namespace

KernelEntry fused_pointwise_entry() {
  KernelEntry e;
  e.domain = "kiln";
  e.op_type = "FusedPointwise";
  e.name = "cpu_fused_pointwise";
  e.supports = supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    std::vector<Step> steps;
    if (!decode(n, steps)) return invalid_argument(n.describe() + ": cannot decode its steps");
    return std::unique_ptr<Kernel>(std::make_unique<FusedPointwiseKernel>(std::move(steps)));
  };
  return e;
}

}  // namespace kiln::cpu
