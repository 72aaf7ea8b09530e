// Add, Sub, Mul, Div, Pow (opset 7 on) and two-input Max, Min (opset 8 on) with numpy
// broadcasting, on kernels/pointwise.h's `binary`, for float32, float16 and bfloat16 operands of
// one dtype and ranks up to kMaxRank; integer Add, Sub and Mul (int32, int64, wrapping as the
// reference does) on kernels/logic.h's `int_binary`, which shares the broadcast plan. Earlier
// opsets (the broadcast/axis attributes, equal shapes), Max/Min of another number of inputs, a Pow
// exponent of another dtype, integer Div/Max/Min/Pow (Div's division by zero is an error only the
// host can report) and shape arithmetic (an int result of rank 0 or 1) run the reference.
#include <string>

#include "backends/cuda/kernels/logic.h"
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"

namespace kiln::cuda {

namespace {

struct BinaryOpType {
  const char* op_type;
  BinaryOp op;
  int min_opset;  // numpy broadcasting from here on
};

const BinaryOpType kBinaryOps[] = {
    {"Add", BinaryOp::kAdd, 7}, {"Sub", BinaryOp::kSub, 7}, {"Mul", BinaryOp::kMul, 7}, {"Div", BinaryOp::kDiv, 7},
    {"Max", BinaryOp::kMax, 8}, {"Min", BinaryOp::kMin, 8}, {"Pow", BinaryOp::kPow, 7},
};

bool int_arithmetic(BinaryOp op) { return op == BinaryOp::kAdd || op == BinaryOp::kSub || op == BinaryOp::kMul; }
bool is_int(DataType t) { return t == DataType::kInt32 || t == DataType::kInt64; }

bool supported(const Node& n, BinaryOp op, int min_opset) {
  if (n.opset < min_opset || n.num_inputs() != 2 || n.num_outputs() != 1) return false;
  if (!n.input(0) || !n.input(1) || !n.output(0)) return false;
  if (!rank_at_most(n.input(0), kMaxRank) || !rank_at_most(n.input(1), kMaxRank)) return false;
  const DataType dt = n.input(0)->dtype;
  if (is_int(dt) && int_arithmetic(op)) {
    // One int dtype throughout, and no shape arithmetic (the host computes it ahead of the run).
    return all_of_dtype(n, dt) && !is_shape_arithmetic(n.output(0));
  }
  // One float dtype throughout: the kernel reads both operands as the output's type.
  return is_kernel_float(dt) && node_float_types(n);
}

class BinaryKernel final : public Kernel {
 public:
  explicit BinaryKernel(BinaryOp op) : op_(op) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) return ctx.error("needs two inputs");
    if (a->dtype() != b->dtype()) return ctx.error(fmt::format("inputs {} and {} differ in dtype", a->describe(), b->describe()));
    if (a->rank() > kMaxRank || b->rank() > kMaxRank) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    int64_t out[kMaxRank];
    int out_rank = 0;
    const int a_rank = static_cast<int>(a->rank()), b_rank = static_cast<int>(b->rank());
    if (!broadcast_shape(a->shape().data(), a_rank, b->shape().data(), b_rank, out, &out_rank)) {
      return ctx.error(fmt::format("inputs {} and {} do not broadcast", a->describe(), b->describe()));
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), Dims(out, out + out_rank)));
    if (is_int(a->dtype())) {
      return launch_status(ctx, int_binary(op_, a->data(), a->shape().data(), a_rank, b->data(), b->shape().data(), b_rank, y->data(),
                                           a->dtype(), stream_of(ctx)));
    }
    return launch_status(ctx, binary(op_, a->data(), a->shape().data(), a_rank, b->data(), b->shape().data(), b_rank,
                                     y->data(), a->dtype(), stream_of(ctx)));
  }

 private:
  BinaryOp op_;
};

}  // namespace

std::vector<KernelEntry> binary_entries() {
  std::vector<KernelEntry> out;
  for (const BinaryOpType& b : kBinaryOps) {
    KernelEntry e;
    e.op_type = b.op_type;
    e.name = std::string("cuda_") + b.op_type;
    const int min_opset = b.min_opset;
    const BinaryOp op = b.op;
    e.supports = [op, min_opset](const Node& n) { return supported(n, op, min_opset); };
    e.create = [op](const Node&) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(op)); };
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cuda
