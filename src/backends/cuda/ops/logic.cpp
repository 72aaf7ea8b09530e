// Comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual: float32/float16/bfloat16,
// int32, int64 operands, bool for Equal), Not, And, Or, Xor (bool) and Where (bool condition,
// values of any fixed-size dtype) on kernels/logic.h, with numpy broadcasting (opset 7 on; Where
// from opset 9), ranks up to kMaxRank. Shape arithmetic stays on the host: a comparison of ints
// whose result has rank 0 or 1 (Equal(shape, -1)), a Where whose result is an int tensor of rank 0
// or 1 (ir's reshape-target idiom), since the host computes those ahead of the run.
#include <algorithm>
#include <string>

#include "backends/cuda/kernels/logic.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"

namespace kiln::cuda {

namespace {

bool is_int(DataType t) { return t == DataType::kInt32 || t == DataType::kInt64; }

// Inputs 0 .. count-1 present with known ranks <= kMaxRank, one output.
bool broadcast_operands(const Node& n, size_t count) {
  if (n.num_inputs() != count || n.num_outputs() != 1 || !n.output(0)) return false;
  for (size_t i = 0; i < count; ++i) {
    if (!n.input(i) || !rank_at_most(n.input(i), kMaxRank)) return false;
  }
  return true;
}

// The output shape of broadcast operands, as the reference gives it; an error names them.
Result<Dims> broadcast_dims(const KernelContext& ctx, const std::vector<const Tensor*>& operands) {
  int64_t out[kMaxRank] = {}, next[kMaxRank] = {};
  int out_rank = 0;
  for (const Tensor* t : operands) {
    if (t->rank() > kMaxRank) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    int next_rank = 0;
    if (!broadcast_shape(out, out_rank, t->shape().data(), static_cast<int>(t->rank()), next, &next_rank)) {
      std::string shapes;
      for (const Tensor* s : operands) shapes += (shapes.empty() ? "" : ", ") + s->describe();
      return ctx.error(fmt::format("inputs {} do not broadcast", shapes));
    }
    std::copy(next, next + next_rank, out);
    out_rank = next_rank;
  }
  return Dims(out, out + out_rank);
}

// --- comparisons -------------------------------------------------------------------------------

struct CompareOpType {
  const char* op_type;
  CompareOp op;
};

const CompareOpType kCompareOps[] = {
    {"Equal", CompareOp::kEqual},
    {"Less", CompareOp::kLess},
    {"LessOrEqual", CompareOp::kLessOrEqual},
    {"Greater", CompareOp::kGreater},
    {"GreaterOrEqual", CompareOp::kGreaterOrEqual},
};

bool compare_supported(const Node& n, CompareOp op) {
  if (n.opset < 7 || !broadcast_operands(n, 2)) return false;
  const DataType dt = n.input(0)->dtype;
  if (n.input(1)->dtype != dt || n.output(0)->dtype != DataType::kBool || !is_compare_type(dt, op)) return false;
  // Equal(shape, -1) and the like: shape arithmetic, the host's.
  return !(is_int(dt) && rank_at_most(n.output(0), 1));
}

class CompareKernel final : public Kernel {
 public:
  explicit CompareKernel(CompareOp op) : op_(op) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) return ctx.error("needs two inputs");
    if (a->dtype() != b->dtype()) return ctx.error(fmt::format("inputs {} and {} differ in dtype", a->describe(), b->describe()));
    KILN_ASSIGN_OR_RETURN(Dims out, broadcast_dims(ctx, {a, b}));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, out));
    return launch_status(ctx, compare(op_, a->data(), a->shape().data(), static_cast<int>(a->rank()), b->data(), b->shape().data(),
                                      static_cast<int>(b->rank()), y->data(), a->dtype(), stream_of(ctx)));
  }

 private:
  CompareOp op_;
};

// --- Not, And, Or, Xor -------------------------------------------------------------------------

bool all_bool(const Node& n) { return all_of_dtype(n, DataType::kBool); }

bool not_supported(const Node& n) {
  return n.num_inputs() == 1 && n.num_outputs() == 1 && n.input(0) && n.output(0) && all_bool(n);
}

Status run_not(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("needs an input");
  if (x->dtype() != DataType::kBool) return ctx.error(fmt::format("input 0 is {}, expected bool", x->describe()));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, x->shape()));
  return launch_status(ctx, logical_not(x->data(), y->data(), x->numel(), stream_of(ctx)));
}

struct LogicOpType {
  const char* op_type;
  LogicOp op;
};

const LogicOpType kLogicOps[] = {{"And", LogicOp::kAnd}, {"Or", LogicOp::kOr}, {"Xor", LogicOp::kXor}};

bool logic_supported(const Node& n) { return n.opset >= 7 && broadcast_operands(n, 2) && all_bool(n); }

class LogicKernel final : public Kernel {
 public:
  explicit LogicKernel(LogicOp op) : op_(op) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) return ctx.error("needs two inputs");
    for (const Tensor* t : {a, b}) {
      if (t->dtype() != DataType::kBool) return ctx.error(fmt::format("input {} is not bool", t->describe()));
    }
    KILN_ASSIGN_OR_RETURN(Dims out, broadcast_dims(ctx, {a, b}));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, out));
    return launch_status(ctx, logic(op_, a->data(), a->shape().data(), static_cast<int>(a->rank()), b->data(), b->shape().data(),
                                    static_cast<int>(b->rank()), y->data(), stream_of(ctx)));
  }

 private:
  LogicOp op_;
};

// --- Where -------------------------------------------------------------------------------------

bool where_supported(const Node& n) {
  if (n.opset < 9 || !broadcast_operands(n, 3)) return false;
  const DataType dt = n.input(1)->dtype;
  if (n.input(0)->dtype != DataType::kBool || n.input(2)->dtype != dt || n.output(0)->dtype != dt) return false;
  return element_bytes(dt) != 0 && !is_shape_arithmetic(n.output(0));
}

Status run_where(KernelContext& ctx) {
  const Tensor* c = ctx.input(0);
  const Tensor* x = ctx.input(1);
  const Tensor* y = ctx.input(2);
  if (!c || !x || !y) return ctx.error("needs three inputs");
  if (c->dtype() != DataType::kBool) return ctx.error(fmt::format("condition {} is not bool", c->describe()));
  if (x->dtype() != y->dtype()) return ctx.error(fmt::format("inputs {} and {} differ in dtype", x->describe(), y->describe()));
  KILN_ASSIGN_OR_RETURN(Dims out, broadcast_dims(ctx, {c, x, y}));
  KILN_ASSIGN_OR_RETURN(Tensor * o, ctx.allocate_output(0, x->dtype(), out));
  return launch_status(ctx, where(c->data(), c->shape().data(), static_cast<int>(c->rank()), x->data(), x->shape().data(),
                                  static_cast<int>(x->rank()), y->data(), y->shape().data(), static_cast<int>(y->rank()), o->data(),
                                  x->dtype(), stream_of(ctx)));
}

}  // namespace

std::vector<KernelEntry> logic_entries() {
  std::vector<KernelEntry> out;
  for (const CompareOpType& c : kCompareOps) {
    KernelEntry e;
    e.op_type = c.op_type;
    e.name = std::string("cuda_") + c.op_type;
    const CompareOp op = c.op;
    e.supports = [op](const Node& n) { return compare_supported(n, op); };
    e.create = [op](const Node&) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<CompareKernel>(op)); };
    out.push_back(std::move(e));
  }
  for (const LogicOpType& l : kLogicOps) {
    KernelEntry e;
    e.op_type = l.op_type;
    e.name = std::string("cuda_") + l.op_type;
    e.supports = logic_supported;
    const LogicOp op = l.op;
    e.create = [op](const Node&) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<LogicKernel>(op)); };
    out.push_back(std::move(e));
  }
  out.push_back(function_entry("", "Not", "cuda_Not", not_supported, run_not));
  out.push_back(function_entry("", "Where", "cuda_where", where_supported, run_where));
  return out;
}

}  // namespace kiln::cuda
