// LayerNormalization and kiln.RMSNormalization on kernels/layer_norm.h, for float32, float16 and
// bfloat16 with every input of one dtype. The kernel normalizes [rows, cols] with one parameter
// per column, so a node runs here when its parameters hold exactly the normalized dims (leading
// dims of 1 aside: [768] or [1, 768] for a last axis of 768); parameters that broadcast along the
// normalized dims in another way, or whose shape inference cannot tell, run the reference.
// LayerNormalization's Mean and InvStdDev outputs are written when stash_type is float32 (the
// kernel's fp32 statistics); with another stash_type they must be unused (allocated, not written).
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/layer_norm.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

namespace {

// dims with their leading 1s dropped.
template <typename D>
D without_leading_ones(const D& dims) {
  size_t k = 0;
  while (k < dims.size() && dims[k] == 1) ++k;
  return D(dims.begin() + static_cast<std::ptrdiff_t>(k), dims.end());
}

// The parameter holds one value per element of the normalized dims, in their order.
bool covers(const Dims& param, const Dims& normalized) { return without_leading_ones(param) == without_leading_ones(normalized); }

// The normalization axis in [0, rank), or -1 when out of range.
int64_t normalized_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return -1;
  return axis < 0 ? axis + rank : axis;
}

// Build time: X's rank known, the normalized dims known and non-empty, and each parameter
// (inputs first..last, absent ones skipped) a static shape that covers them.
bool parameters_cover(const Node& n, size_t first, size_t last) {
  const Value* x = n.input(0);
  const std::optional<size_t> rank = known_rank(x);
  if (!rank || *rank < 1) return false;
  const int64_t axis = normalized_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(*rank));
  if (axis < 0) return false;
  Dims normalized;
  for (size_t d = static_cast<size_t>(axis); d < *rank; ++d) {
    const int64_t v = known_dim(x, d);
    if (v <= 0) return false;
    normalized.push_back(v);
  }
  for (size_t i = first; i <= last; ++i) {
    const Value* p = n.input(i);
    if (!p) continue;
    if (!is_static(p->shape) || !covers(static_dims(*p->shape), normalized)) return false;
  }
  return true;
}

bool layer_norm_supported(const Node& n) {
  if (n.num_inputs() < 2 || n.num_inputs() > 3 || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  const DataType t = n.input(0)->dtype;
  if (!is_kernel_float(t) || n.input(1)->dtype != t || (n.input(2) && n.input(2)->dtype != t) || n.output(0)->dtype != t) return false;
  if (!(n.attrs.get_float("epsilon", 1e-5f) >= 0.f)) return false;
  // The statistics: fp32 is what the kernel writes; another stash type only when nothing reads them.
  const bool fp32_stats = n.attrs.get_int("stash_type", 1) == static_cast<int64_t>(DataType::kFloat32);
  for (size_t i = 1; i < n.num_outputs(); ++i) {
    if (!output_unused(n, i) && (!fp32_stats || n.output(i)->dtype != DataType::kFloat32)) return false;
  }
  return parameters_cover(n, 1, 2);
}

bool rms_norm_supported(const Node& n) {
  if (n.num_inputs() != 2 || n.num_outputs() != 1 || !n.input(0) || !n.input(1) || !n.output(0)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || !node_float_types(n)) return false;
  if (!(n.attrs.get_float("epsilon", 1e-5f) >= 0.f)) return false;
  return parameters_cover(n, 1, 1);
}

// Run time: [rows, cols] of x at `axis` and the check that each present parameter covers cols.
struct RowsCols {
  int64_t axis = 0, rows = 1, cols = 1;
};

Result<RowsCols> rows_cols(const KernelContext& ctx, const Tensor& x, int64_t axis_attr, std::initializer_list<size_t> params) {
  const int64_t rank = x.rank();
  if (rank < 1) return ctx.error("input 0 is a scalar, expected rank 1 or more");
  RowsCols rc;
  rc.axis = normalized_axis(axis_attr, rank);
  if (rc.axis < 0) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis_attr, rank));
  for (int64_t d = 0; d < rank; ++d) (d < rc.axis ? rc.rows : rc.cols) *= x.dim(d);
  const Dims normalized(x.shape().begin() + rc.axis, x.shape().end());
  for (size_t i : params) {
    const Tensor* p = ctx.input(i);
    if (!p) continue;
    if (p->dtype() != x.dtype()) return ctx.error(fmt::format("input {} is {}, expected X's dtype", i, p->describe()));
    if (!covers(p->shape(), normalized)) {
      return ctx.error(fmt::format("input {} {} does not hold the normalized dims {} (other broadcasts run on the reference backend)", i,
                                   p->describe(), dims_to_string(normalized)));
    }
  }
  return rc;
}

class LayerNormKernel final : public Kernel {
 public:
  explicit LayerNormKernel(const Node& n) : axis_(n.attrs.get_int("axis", -1)), epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {
    // The statistics the node has: written when fp32, else only allocated (the runtime wants every
    // output of a node; nothing reads these, layer_norm_supported made sure).
    for (size_t i = 1; i < 3; ++i) stats_[i - 1] = n.output(i) ? n.output(i)->dtype : DataType::kUndefined;
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x || !ctx.input(1)) return ctx.error("inputs 0 'X' and 1 'Scale' are required");
    KILN_ASSIGN_OR_RETURN(RowsCols rc, rows_cols(ctx, *x, axis_, {1, 2}));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    float* stats[2] = {nullptr, nullptr};
    Dims stat_dims(x->shape().begin(), x->shape().begin() + rc.axis);
    stat_dims.resize(x->shape().size(), 1);
    for (size_t i = 0; i < 2; ++i) {
      if (stats_[i] == DataType::kUndefined || ctx.num_outputs() <= i + 1) continue;
      KILN_ASSIGN_OR_RETURN(Tensor * s, ctx.allocate_output(i + 1, stats_[i], stat_dims));
      if (stats_[i] == DataType::kFloat32) stats[i] = s->data_as<float>();
    }
    const void* beta = ctx.num_inputs() > 2 && ctx.input(2) ? ctx.input(2)->data() : nullptr;
    return launch_status(ctx, layer_norm(x->data(), ctx.input(1)->data(), beta, y->data(), stats[0], stats[1], x->dtype(), rc.rows,
                                         rc.cols, epsilon_, stream_of(ctx)));
  }

 private:
  int64_t axis_;
  float epsilon_;
  DataType stats_[2] = {DataType::kUndefined, DataType::kUndefined};
};

class RmsNormKernel final : public Kernel {
 public:
  explicit RmsNormKernel(const Node& n) : axis_(n.attrs.get_int("axis", -1)), epsilon_(n.attrs.get_float("epsilon", 1e-5f)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x || !ctx.input(1)) return ctx.error("inputs 0 'X' and 1 'scale' are required");
    KILN_ASSIGN_OR_RETURN(RowsCols rc, rows_cols(ctx, *x, axis_, {1}));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    return launch_status(ctx, rms_norm(x->data(), ctx.input(1)->data(), y->data(), x->dtype(), rc.rows, rc.cols, epsilon_, stream_of(ctx)));
  }

 private:
  int64_t axis_;
  float epsilon_;
};

}  // namespace

std::vector<KernelEntry> norm_entries() {
  return {node_entry<LayerNormKernel>("", "LayerNormalization", "cuda_layer_normalization", layer_norm_supported),
          node_entry<RmsNormKernel>(kKilnDomain, "RMSNormalization", "cuda_rms_normalization", rms_norm_supported)};
}

}  // namespace kiln::cuda
