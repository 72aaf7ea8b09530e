// GatherND (opset 11-13: batch_dims from 12) on kernels/gather_nd.h for every fixed-size dtype.
//
// The indices stay in device memory: they are data (the mask BERT's exporters pick with an index
// grid built from Range and Expand). As with the cuda Gather (ops/copy.cpp), an index out of range
// cannot be reported from there without a device-to-host read and a wait for the stream in the
// middle of the run, so it is not: the kernel writes zeros for its slice, where the reference
// kernel reports an error. Constant indices are checked when the engine is built, and a node with
// one out of range runs the reference, which reports it.
#include <string>

#include "backends/cuda/kernels/gather_nd.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"

namespace kiln::cuda {

namespace {

// What the launch needs, from data's and indices' dims; the reference's checks and messages.
Result<GatherNdShape> gather_nd_shape(const KernelContext& ctx, const Dims& data, const Dims& ind, int64_t b, Dims* out) {
  const int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(ind.size());
  if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error(fmt::format("batch_dims {} is out of range", b));
  const int64_t k = ind.back();
  if (k < 1 || k > r - b) return ctx.error(fmt::format("indices' last dim {} must be in [1, {}]", k, r - b));
  if (k > kMaxGatherNdDepth) return ctx.unsupported_error(fmt::format("index tuples of {} values are not supported on cuda", k));
  GatherNdShape s;
  for (int64_t i = 0; i < b; ++i) {
    if (data[static_cast<size_t>(i)] != ind[static_cast<size_t>(i)]) {
      return ctx.error(fmt::format("batch dim {} differs: data has {}, indices has {}", i, data[static_cast<size_t>(i)],
                                   ind[static_cast<size_t>(i)]));
    }
    s.batches *= data[static_cast<size_t>(i)];
  }
  for (int64_t i = b; i < q - 1; ++i) s.tuples_per_batch *= ind[static_cast<size_t>(i)];
  s.depth = static_cast<int>(k);
  for (int64_t e = 0; e < k; ++e) s.dims[e] = data[static_cast<size_t>(b + e)];
  for (int64_t i = b + k; i < r; ++i) s.slice *= data[static_cast<size_t>(i)];
  out->assign(ind.begin(), ind.end() - 1);
  out->insert(out->end(), data.begin() + b + k, data.end());
  return s;
}

bool gather_nd_supported(const Node& n) {
  const Value* data = n.input(0);
  const Value* ind = n.input(1);
  const Value* y = n.output(0);
  if (n.num_inputs() != 2 || n.num_outputs() != 1 || !data || !ind || !y) return false;
  if (element_bytes(data->dtype) == 0 || y->dtype != data->dtype) return false;
  // A gather from or into shape arithmetic is the host's (it computes it ahead of the run).
  if (is_shape_arithmetic(data) || is_shape_arithmetic(y)) return false;
  if (ind->dtype != DataType::kInt64 && ind->dtype != DataType::kInt32) return false;
  const std::optional<size_t> r = known_rank(data), q = known_rank(ind);
  if (!r || !q || *r < 1 || *q < 1) return false;
  const int64_t b = n.attrs.get_int("batch_dims", 0);
  const int64_t k = known_dim(ind, *q - 1);
  if (b < 0 || b >= static_cast<int64_t>(std::min(*r, *q)) || k < 1 || k > static_cast<int64_t>(*r) - b || k > kMaxGatherNdDepth) {
    return false;
  }
  // Constant indices can be checked now; one out of range is the reference's error to report.
  if (std::optional<std::vector<int64_t>> idx = constant_ints(ind)) {
    for (size_t t = 0; t < idx->size(); ++t) {
      const int64_t len = known_dim(data, static_cast<size_t>(b) + t % static_cast<size_t>(k));
      const int64_t v = (*idx)[t];
      if (len < 0 || v < -len || v >= len) return false;
    }
  }
  return true;
}

class GatherNdKernel final : public Kernel {
 public:
  explicit GatherNdKernel(const Node& n) : batch_dims_(n.attrs.get_int("batch_dims", 0)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* data = ctx.input(0);
    const Tensor* ind = ctx.input(1);
    if (!data || !ind) return ctx.error("inputs 0 'data' and 1 'indices' are required");
    if (ind->dtype() != DataType::kInt64 && ind->dtype() != DataType::kInt32) {
      return ctx.error(fmt::format("input 1 'indices' has dtype {}, expected int64", dtype_name(ind->dtype())));
    }
    Dims out;
    KILN_ASSIGN_OR_RETURN(GatherNdShape s, gather_nd_shape(ctx, data->shape(), ind->shape(), batch_dims_, &out));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, data->dtype(), out));
    // bad_index null: see the top of the file.
    return launch_status(ctx, gather_nd(data->data(), ind->data(), ind->dtype(), s, y->data(), data->dtype(), nullptr, stream_of(ctx)));
  }

 private:
  int64_t batch_dims_;
};

}  // namespace

std::vector<KernelEntry> gather_nd_entries() {
  return {node_entry<GatherNdKernel>("", "GatherND", "cuda_gather_nd", gather_nd_supported)};
}

}  // namespace kiln::cuda
