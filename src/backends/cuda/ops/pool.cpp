// Pooling on kernels/pool.h (and kernels/reduce.h for GlobalAveragePool), for float32, float16
// and bfloat16 with 1 to 3 spatial axes: ONNX MaxPool (channels first; only output Y: a node whose
// Indices output is read runs the reference), AveragePool, kiln.MaxPool (channels_last 0 or 1:
// the layout pass's max pool between channels-last convolutions), GlobalAveragePool and
// GlobalMaxPool. Windows come from the pool geometry inference and the reference use
// (ir/ops/pool_norm/pool_geometry.h), so kernel_shape, strides, pads, dilations, auto_pad and
// ceil_mode mean the same here; attributes the geometry rejects are refused at build time, so the
// reference reports them.
//
// kiln has no channels-last average pool: the layout pass turns a GlobalAveragePool that reads a
// channels-last value into ReduceMean over H and W (reduce.cpp).
#include <string>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/pool.h"
#include "backends/cuda/kernels/reduce.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/pool_norm/pool_geometry.h"

namespace kiln::cuda {

namespace {

// x (input 0) and y (output 0) are one float dtype; every other output is unused.
bool float_pool_io(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() < 1 || !n.input(0) || !n.output(0)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || n.output(0)->dtype != n.input(0)->dtype) return false;
  for (size_t i = 1; i < n.num_outputs(); ++i) {
    if (!output_unused(n, i)) return false;  // MaxPool's Indices: the reference computes them
  }
  return true;
}

// --- windowed pools ----------------------------------------------------------------------------

bool windowed_supported(const Node& n) {
  if (!float_pool_io(n)) return false;
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank || *rank < 3 || *rank > 2 + static_cast<size_t>(kMaxPoolSpatialRank)) return false;
  if (n.domain == kKilnDomain) {
    const int64_t cl = n.attrs.get_int("channels_last", 0);
    if (cl != 0 && cl != 1) return false;
  }
  if (n.op_type == "MaxPool") {
    const int64_t order = n.attrs.get_int("storage_order", 0);
    if (order != 0 && order != 1) return false;  // the reference's error
  }
  // The attributes must make windows (the sizes are checked again at run time).
  return pool_geometry(n.attrs, std::vector<int64_t>(*rank - 2, -1)).ok();
}

class WindowedPoolKernel final : public Kernel {
 public:
  WindowedPoolKernel(const Node& n, bool max)
      : channels_last_(n.domain == kKilnDomain && n.attrs.get_int("channels_last", 0) == 1) {
    if (max) {
      op_ = PoolOp::kMax;
    } else {
      op_ = n.attrs.get_int("count_include_pad", 0) != 0 ? PoolOp::kAverageIncludePad : PoolOp::kAverage;
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    const int64_t rank = x->rank();
    if (rank < 3 || rank > 2 + kMaxPoolSpatialRank) {
      return ctx.unsupported_error(fmt::format("input {} has {} spatial axes; cuda pools 1 to 3", x->describe(), rank - 2));
    }
    // [N, C, spatial...] or [N, spatial..., C].
    const int64_t n = x->dim(0), c = channels_last_ ? x->dim(rank - 1) : x->dim(1);
    const int64_t first_spatial = channels_last_ ? 1 : 2;
    std::vector<int64_t> spatial;
    for (int64_t d = 0; d < rank - 2; ++d) spatial.push_back(x->dim(first_spatial + d));
    auto geometry = pool_geometry(ctx.attrs(), spatial);
    if (!geometry.ok()) return ctx.error(geometry.status().message());
    const PoolGeometry& g = *geometry;
    PoolShape s;
    s.spatial_rank = static_cast<int>(spatial.size());
    s.outer = channels_last_ ? n : n * c;
    s.inner = channels_last_ ? c : 1;
    Dims out = channels_last_ ? Dims{n} : Dims{n, c};
    for (size_t d = 0; d < spatial.size(); ++d) {
      s.in[d] = spatial[d];
      s.out[d] = g.out[d];
      s.kernel[d] = g.kernel[d];
      s.strides[d] = g.strides[d];
      s.dilations[d] = g.dilations[d];
      s.pad_begin[d] = g.pad_begin[d];
      out.push_back(g.out[d]);
    }
    if (channels_last_) out.push_back(c);
    if (!valid_pool_shape(s)) return ctx.error(fmt::format("no pooling windows for input {}", x->describe()));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    return launch_status(ctx, pool(op_, s, x->data(), y->data(), x->dtype(), stream_of(ctx)));
  }

 private:
  bool channels_last_;
  PoolOp op_ = PoolOp::kMax;
};

// --- global pools ------------------------------------------------------------------------------

bool global_supported(const Node& n) {
  if (!float_pool_io(n)) return false;
  const std::optional<size_t> rank = known_rank(n.input(0));
  return rank && *rank >= 2;
}

// GlobalAveragePool and GlobalMaxPool: each (n, c) plane, all spatial axes, to one value.
class GlobalPoolKernel final : public Kernel {
 public:
  explicit GlobalPoolKernel(bool max) : max_(max) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    if (x->rank() < 2) return ctx.error(fmt::format("input 0 is {}, expected rank 2 or more", x->describe()));
    Dims out = x->shape();
    for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    const int64_t planes = x->dim(0) * x->dim(1);
    if (planes == 0) return ok_status();
    const int64_t per_plane = x->numel() / planes;
    cudaStream_t stream = stream_of(ctx);
    if (max_) return launch_status(ctx, global_max_rows(x->data(), y->data(), x->dtype(), planes, per_plane, stream));
    // The reference averages an empty plane to 0 (ReduceMean's would be NaN).
    if (per_plane == 0) return launch_status(ctx, cudaMemsetAsync(y->data(), 0, y->nbytes(), stream));
    return launch_status(ctx, reduce_rows(x->data(), y->data(), x->dtype(), ReduceOp::kMean, planes, per_plane, stream));
  }

 private:
  bool max_;
};

KernelEntry pool_entry(const std::string& domain, const char* op_type, const char* name, bool (*supports)(const Node&),
                       std::function<std::unique_ptr<Kernel>(const Node&)> make) {
  KernelEntry e;
  e.domain = domain;
  e.op_type = op_type;
  e.name = name;
  e.supports = supports;
  e.create = [make](const Node& n) -> Result<std::unique_ptr<Kernel>> { return make(n); };
  return e;
}

}  // namespace

std::vector<KernelEntry> pool_entries() {
  auto windowed = [](bool max) {
    return [max](const Node& n) -> std::unique_ptr<Kernel> { return std::make_unique<WindowedPoolKernel>(n, max); };
  };
  auto global = [](bool max) {
    return [max](const Node&) -> std::unique_ptr<Kernel> { return std::make_unique<GlobalPoolKernel>(max); };
  };
  return {pool_entry("", "MaxPool", "cuda_max_pool", windowed_supported, windowed(true)),
          pool_entry(kKilnDomain, "MaxPool", "cuda_max_pool", windowed_supported, windowed(true)),
          pool_entry("", "AveragePool", "cuda_average_pool", windowed_supported, windowed(false)),
          pool_entry("", "GlobalAveragePool", "cuda_global_average_pool", global_supported, global(false)),
          pool_entry("", "GlobalMaxPool", "cuda_global_max_pool", global_supported, global(true))};
}

}  // namespace kiln::cuda
