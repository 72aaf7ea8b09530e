// Add, Sub, Mul, Div (opset 7 on) and two-input Max, Min (opset 8 on), f32, with numpy
// broadcasting. They differ only in the arithmetic, so they share one kernel and one table.
//
// Same shapes and a scalar operand are single vector loops; any other broadcast is walked as runs
// over the collapsed output dims (for_each_run): [N,C,H,W] + [C,1,1] is runs of H·W against one
// value, [B,S,768] + [768] runs of 768 against the bias. Ranks above kMaxBroadcastRank, shapes
// that do not broadcast (the reference's error to report) and other dtypes run the reference.
#include <string>
#include <vector>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/pointwise.h"
#include "backends/reference/kernels/binary/binary_kernels.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBlock = 8192;  // elements per block
constexpr int64_t kMinBlocks = kMinStreamElementsPerThread / kBlock;

struct BinaryEntry {
  const char* op_type;
  BinaryKind kind;
  int min_opset;  // numpy broadcasting (earlier: broadcast/axis attributes or equal shapes)
  KernelFn reference;
};

const BinaryEntry kBinaryOps[] = {
    {"Add", BinaryKind::kAdd, 7, ref_add}, {"Sub", BinaryKind::kSub, 7, ref_sub},
    {"Mul", BinaryKind::kMul, 7, ref_mul}, {"Div", BinaryKind::kDiv, 7, ref_div},
    {"Max", BinaryKind::kMax, 8, ref_max}, {"Min", BinaryKind::kMin, 8, ref_min},
};

bool supported(const Node& n, const BinaryEntry& e) {
  if (n.opset < e.min_opset || n.num_inputs() != 2 || n.num_outputs() != 1) return false;
  for (const Value* v : {n.input(0), n.input(1), n.output(0)}) {
    if (!v || v->dtype != DataType::kFloat32) return false;
  }
  return true;
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(BinaryKind kind, KernelFn reference) : kind_(kind), reference_(reference) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (ctx.num_inputs() != 2 || !a || !b || a->dtype() != DataType::kFloat32 ||
        b->dtype() != DataType::kFloat32) {
      return reference_(ctx);
    }
    // Reused by every run on this thread: no allocation once it has the capacity.
    thread_local Dims out;
    BroadcastLayout layout;
    const Dims* shapes[2] = {&a->shape(), &b->shape()};
    if (!broadcast_dims(a->shape(), b->shape(), out) ||
        !make_broadcast_layout(shapes, 2, out, layout)) {
      return reference_(ctx);
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out));
    const int64_t n = layout.numel;
    const float* ap = a->data_as<float>();
    const float* bp = b->data_as<float>();
    float* yp = y->data_as<float>();
    const VecKernels& k = vec_kernels();
    const BinaryKind kind = kind_;
    if (a->numel() == n && b->numel() == n) {
      parallel_blocks(n, kBlock, kMinBlocks,
                      [&](int64_t s, int64_t e) { k.binary(kind, ap + s, bp + s, yp + s, e - s); });
    } else if (a->numel() == n && b->numel() == 1) {
      const float sb = bp[0];
      parallel_blocks(n, kBlock, kMinBlocks,
                      [&](int64_t s, int64_t e) { k.binary_vs(kind, ap + s, sb, yp + s, e - s); });
    } else if (a->numel() == 1 && b->numel() == n) {
      const float sa = ap[0];
      parallel_blocks(n, kBlock, kMinBlocks,
                      [&](int64_t s, int64_t e) { k.binary_sv(kind, sa, bp + s, yp + s, e - s); });
    } else {
      parallel_blocks(n, kBlock, kMinBlocks, [&](int64_t s, int64_t e) {
        for_each_run(layout, s, e,
                     [&](int64_t pos, int64_t len, const int64_t* off, const int64_t* step) {
                       const float* pa = ap + off[0];
                       const float* pb = bp + off[1];
                       if (step[0] && step[1])
                         k.binary(kind, pa, pb, yp + pos, len);
                       else if (step[0])
                         k.binary_vs(kind, pa, *pb, yp + pos, len);
                       else if (step[1])
                         k.binary_sv(kind, *pa, pb, yp + pos, len);
                       else
                         k.binary_vs(kind, pa, *pb, yp + pos, len);  // one output element: len is 1
                     });
      });
    }
    return ok_status();
  }

 private:
  BinaryKind kind_;
  KernelFn reference_;
};

}  // namespace

std::vector<KernelEntry> binary_entries() {
  std::vector<KernelEntry> out;
  for (const BinaryEntry& b : kBinaryOps) {
    KernelEntry e;
    e.op_type = b.op_type;
    e.name = std::string("cpu_") + b.op_type;
    e.supports = [&b](const Node& n) { return supported(n, b); };
    e.create = [&b](const Node& n) -> Result<std::unique_ptr<Kernel>> {
      return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(b.kind, b.reference));
    };
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cpu
