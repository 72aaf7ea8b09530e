// ReduceSum, ReduceMean, ReduceMax (f32). The input's dims are collapsed into runs of kept and
// reduced dims (dims of 1 dropped); two layouts have vector loops:
//
//   [outer, R]          every output is one contiguous row of R (the trailing axes: LayerNorm
//                       style statistics, a softmax denominator);
//   [outer, R, inner]   each output row sums R rows of `inner` contiguous floats (leading or middle
//                       axes: ReduceMean over H, W of an NHWC tensor, global pooling
//                       channels-last), vectorized across `inner` in tiles of kColTile columns.
//
// Sums accumulate in float over short stretches and in double across them; the reference sums in
// double, so results differ by float rounding of partial sums only. Max propagates NaN as the
// reference does. Each output is computed by one thread in a fixed order, so the result does not
// depend on the thread count. Other layouts (reduced runs separated by kept ones), empty tensors,
// rank above 8 and anything malformed run the reference kernel.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/pointwise.h"
#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln::cpu {

namespace {

constexpr int kMaxRank = 8;
constexpr int64_t kMinElementsPerThread = kMinStreamElementsPerThread;

enum class ReduceKind { kSum, kMean, kMax };

struct ReduceEntry {
  const char* op_type;
  ReduceKind kind;
  KernelFn reference;
};

const ReduceEntry kReduceOps[] = {
    {"ReduceSum", ReduceKind::kSum, ref_reduce_sum},
    {"ReduceMean", ReduceKind::kMean, ref_reduce_mean},
    {"ReduceMax", ReduceKind::kMax, ref_reduce_max},
};

bool supported(const Node& n) {
  if (n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (n.input(0)->dtype != DataType::kFloat32 || n.output(0)->dtype != DataType::kFloat32)
    return false;
  if (reduce_axes_from_input(n.op_type, n.opset)) {
    if (n.num_inputs() > 2 || (n.input(1) && n.input(1)->dtype != DataType::kInt64)) return false;
  } else if (n.num_inputs() != 1) {
    return false;
  }
  return true;
}

struct ReduceArgs {
  const VecKernels* k;
  ReduceKind kind;
  const float* x;
  float* y;
  int64_t outer, r, inner;
};

// [outer, R]: output o is row o.
void reduce_rows(const ReduceArgs& a) {
  const ReduceArgs* p = &a;
  const int64_t min_rows = a.r >= kMinElementsPerThread ? 1 : kMinElementsPerThread / a.r;
  parallel_for(a.outer, min_rows, [p](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* row = p->x + o * p->r;
      switch (p->kind) {
        case ReduceKind::kSum:
          p->y[o] = static_cast<float>(p->k->sum(row, p->r));
          break;
        case ReduceKind::kMean:
          p->y[o] = static_cast<float>(p->k->sum(row, p->r) / static_cast<double>(p->r));
          break;
        case ReduceKind::kMax:
          p->y[o] = p->k->max(row, p->r);
          break;
      }
    }
  });
}

// [outer, R, inner]: one task per (outer index, tile of kColTile output columns).
void reduce_columns(const ReduceArgs& a) {
  const ReduceArgs* p = &a;
  const int64_t tiles = (a.inner + kColTile - 1) / kColTile;
  const int64_t per_task = a.r * (a.inner < kColTile ? a.inner : kColTile);
  const int64_t min_tasks =
      per_task >= kMinElementsPerThread ? 1 : kMinElementsPerThread / per_task;
  parallel_for(a.outer * tiles, min_tasks, [p, tiles](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / tiles, j0 = (t % tiles) * kColTile;
      const int64_t w = p->inner - j0 < kColTile ? p->inner - j0 : kColTile;
      const float* base = p->x + o * p->r * p->inner + j0;
      float* out = p->y + o * p->inner + j0;
      if (p->kind == ReduceKind::kMax) {
        float acc[kColTile];
        for (int64_t j = 0; j < w; ++j) acc[j] = -INFINITY;
        p->k->col_max(base, p->r, p->inner, w, acc);
        for (int64_t j = 0; j < w; ++j) out[j] = acc[j];
      } else {
        double acc[kColTile] = {};
        p->k->col_sum(base, p->r, p->inner, w, acc);
        const double scale = p->kind == ReduceKind::kMean ? static_cast<double>(p->r) : 1.0;
        for (int64_t j = 0; j < w; ++j) out[j] = static_cast<float>(acc[j] / scale);
      }
    }
  });
}

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(const ReduceEntry& e, const Node& n)
      : kind_(e.kind),
        reference_(e.reference),
        from_input_(reduce_axes_from_input(n.op_type, n.opset)),
        keepdims_(n.attrs.get_int("keepdims", 1) != 0),
        noop_(from_input_ && n.attrs.get_int("noop_with_empty_axes", 0) != 0),
        attr_axes_(from_input_ ? std::vector<int64_t>{} : n.attrs.get_ints("axes")) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DataType::kFloat32 || x->rank() > kMaxRank || x->numel() == 0)
      return reference_(ctx);
    const int64_t rank = x->rank();

    // The axes, from the attribute or input 1; a bad axis is the reference's error to report.
    const int64_t* axes = attr_axes_.data();
    int64_t num_axes = static_cast<int64_t>(attr_axes_.size());
    if (from_input_) {
      const Tensor* t = ctx.num_inputs() > 1 ? ctx.input(1) : nullptr;
      num_axes = 0;
      if (t) {
        if (t->dtype() != DataType::kInt64 || t->rank() > 1) return reference_(ctx);
        axes = t->data_as<int64_t>();
        num_axes = t->numel();
      }
    }
    if (num_axes == 0 && noop_) {
      KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
      std::memcpy(y->data(), x->data(), x->nbytes());
      return ok_status();
    }
    bool reduced[kMaxRank] = {};
    for (int64_t i = 0; i < num_axes; ++i) {
      const int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (ax < 0 || ax >= rank || reduced[ax]) return reference_(ctx);
      reduced[ax] = true;
    }
    if (num_axes == 0) {
      for (int64_t d = 0; d < rank; ++d) reduced[d] = true;
    }

    // Collapse into runs: [outer, R] or [outer, R, inner]; anything else goes to the reference.
    int64_t outer = 1, r = 1, inner = 1;
    int stage = 0;  // 0: kept dims before the reduced run, 1: in it, 2: kept dims after it
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t n = x->dim(d);
      if (n == 1) continue;
      if (reduced[d]) {
        if (stage == 2) return reference_(ctx);
        stage = 1;
        r *= n;
      } else if (stage == 0) {
        outer *= n;
      } else {
        stage = 2;
        inner *= n;
      }
    }

    thread_local Dims out;  // reused: no allocation once it has the capacity
    out.clear();
    for (int64_t d = 0; d < rank; ++d) {
      if (!reduced[d])
        out.push_back(x->dim(d));
      else if (keepdims_)
        out.push_back(1);
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out));
    if (r == 1) {  // only dims of 1 are reduced: every output is its one input element
      std::memcpy(y->data(), x->data(), x->nbytes());
      return ok_status();
    }
    const ReduceArgs args{&vec_kernels(), kind_, x->data_as<float>(), y->data_as<float>(), outer, r,
                          inner};
    if (inner == 1)
      reduce_rows(args);
    else
      reduce_columns(args);
    return ok_status();
  }

 private:
  ReduceKind kind_;
  KernelFn reference_;
  bool from_input_;
  bool keepdims_;
  bool noop_;
  std::vector<int64_t> attr_axes_;
};

}  // namespace

std::vector<KernelEntry> reduce_entries() {
  std::vector<KernelEntry> out;
  for (const ReduceEntry& r : kReduceOps) {
    KernelEntry e;
    e.op_type = r.op_type;
    e.name = std::string("cpu_") + r.op_type;
    e.supports = supported;
    e.create = [&r](const Node& n) -> Result<std::unique_ptr<Kernel>> {
      return std::unique_ptr<Kernel>(std::make_unique<ReduceKernel>(r, n));
    };
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace kiln::cpu
