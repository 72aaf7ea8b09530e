// ReduceSum, ReduceMean and ReduceMax on kernels/reduce.h, for float32, float16 and bfloat16,
// where the reduced axes, once dims of 1 are set aside, are one run of adjacent dims: the input is
// then [outer, R] (trailing axes: reduce_rows) or [outer, R, inner] (leading or middle axes:
// reduce_middle). Reducing every axis (no axes) is [1, numel]. The axes come from the `axes`
// attribute or, from opset 13 (ReduceSum) / 18 (the others), from input 1, which is read in host
// memory and must be a constant so the layout is known when the engine is built. Reduced runs
// separated by kept dims, noop_with_empty_axes with no axes, and axes the reference would reject
// run the reference.
#include <string>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/reduce.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln::cuda {

namespace {

struct ReduceOpType {
  const char* op_type;
  ReduceOp op;
};

const ReduceOpType kReduceOps[] = {
    {"ReduceSum", ReduceOp::kSum},
    {"ReduceMean", ReduceOp::kMean},
    {"ReduceMax", ReduceOp::kMax},
};

// Whether the reduced dims, dims of size 1 (d_is_one) skipped, are one run: kept* reduced* kept*.
template <typename IsOne>
bool one_reduced_run(const std::vector<bool>& reduced, IsOne d_is_one) {
  int phase = 0;  // 0: kept before the run, 1: in the run, 2: kept after it
  for (size_t d = 0; d < reduced.size(); ++d) {
    if (d_is_one(d)) continue;
    if (reduced[d]) {
      if (phase == 2) return false;
      phase = 1;
    } else if (phase == 1) {
      phase = 2;
    }
  }
  return true;
}

// Which dims the axes reduce (every dim when there are none); false where the reference reports
// an error.
bool reduced_dims(const std::vector<int64_t>& axes, int64_t rank, std::vector<bool>* reduced) {
  reduced->assign(static_cast<size_t>(rank), axes.empty());
  if (axes.empty()) return true;
  auto normalized = normalize_reduce_axes(axes, rank);
  if (!normalized.ok()) return false;
  for (int64_t a : *normalized) (*reduced)[static_cast<size_t>(a)] = true;
  return true;
}

bool supported(const Node& n) {
  if (n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || n.output(0)->dtype != n.input(0)->dtype) return false;
  const bool from_input = reduce_axes_from_input(n.op_type, n.opset);
  std::vector<int64_t> axes;
  if (from_input) {
    if (n.num_inputs() > 2) return false;
    if (n.input(1)) {
      // A constant: the layout (and so the kernel) is decided now.
      std::optional<std::vector<int64_t>> c = constant_ints(n.input(1));
      if (!c) return false;
      axes = *c;
    }
    if (axes.empty() && n.attrs.get_int("noop_with_empty_axes", 0) != 0) return false;
  } else {
    if (n.num_inputs() != 1) return false;
    axes = n.attrs.get_ints("axes");
  }
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank) return false;
  std::vector<bool> reduced;
  if (!reduced_dims(axes, static_cast<int64_t>(*rank), &reduced)) return false;
  return one_reduced_run(reduced, [&](size_t d) { return known_dim(n.input(0), d) == 1; });
}

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(const Node& n, ReduceOp op)
      : op_(op),
        from_input_(reduce_axes_from_input(n.op_type, n.opset)),
        keepdims_(n.attrs.get_int("keepdims", 1) != 0),
        attr_axes_(from_input_ ? std::vector<int64_t>{} : n.attrs.get_ints("axes")) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    std::vector<int64_t> axes = attr_axes_;
    if (from_input_ && ctx.num_inputs() > 1 && ctx.input(1)) {
      auto r = read_int64s(*ctx.input(1));  // host memory (host_inputs)
      if (!r.ok()) return ctx.error(fmt::format("input 1 'axes': {}", r.status().message()));
      axes = std::move(r).value();
    }
    const int64_t rank = x->rank();
    std::vector<bool> reduced;
    if (!axes.empty()) {
      auto r = normalize_reduce_axes(axes, rank);
      if (!r.ok()) return ctx.error(r.status().message());
    }
    reduced_dims(axes, rank, &reduced);
    if (!one_reduced_run(reduced, [&](size_t d) { return x->dim(static_cast<int64_t>(d)) == 1; })) {
      return ctx.unsupported_error(fmt::format("the reduced axes of {} are not one run of adjacent dims", x->describe()));
    }
    // [outer, R, inner] around the run (dims of 1 belong to no side: they change no product).
    int64_t outer = 1, r = 1, inner = 1;
    bool run_seen = false;
    Dims out_dims;
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t len = x->dim(d);
      if (reduced[static_cast<size_t>(d)]) {
        r *= len;
        if (len != 1) run_seen = true;
        if (keepdims_) out_dims.push_back(1);
      } else {
        (run_seen ? inner : outer) *= len;
        out_dims.push_back(len);
      }
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out_dims));
    const cudaError_t e = inner == 1 ? reduce_rows(x->data(), y->data(), x->dtype(), op_, outer, r, stream_of(ctx))
                                     : reduce_middle(x->data(), y->data(), x->dtype(), op_, outer, r, inner, stream_of(ctx));
    return launch_status(ctx, e);
  }

 private:
  ReduceOp op_;
  bool from_input_;
  bool keepdims_;
  std::vector<int64_t> attr_axes_;
};

}  // namespace

std::vector<KernelEntry> reduce_entries() {
  std::vector<KernelEntry> out;
  for (const ReduceOpType& t : kReduceOps) {
    KernelEntry e;
    e.op_type = t.op_type;
    e.name = std::string("cuda_") + t.op_type;
    e.supports = supported;
    const ReduceOp op = t.op;
    e.create = [op](const Node& n) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<ReduceKernel>(n, op)); };
    e.host_inputs = {1};  // the axes (opset 13/18 on)
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cuda
