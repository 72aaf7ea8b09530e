// Gather for every dtype (elements moved by size), int32 or int64 indices, negative ones counting
// from the end. Output row (o, j) is the input's slice idx[j] along the axis under outer index o:
// one copy of `inner` elements, so the embedding lookup (axis 0 on a [vocab, hidden] table) is
// one memcpy of a table row per token. An index out of range runs the reference, which reports
// it with its own message.
#include <algorithm>

#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "core/parallel.h"

namespace kiln::cpu {

namespace {

template <typename I>
bool in_range(const I* idx, int64_t k, int64_t n) {
  for (int64_t j = 0; j < k; ++j) {
    const int64_t v = static_cast<int64_t>(idx[j]);
    if (v < -n || v >= n) return false;
  }
  return true;
}

struct GatherJob {
  const unsigned char* src;
  unsigned char* dst;
  const void* idx;
  bool idx64;
  int64_t n, k;  // axis size, index count
  size_t chunk;  // bytes per gathered slice
};

template <typename I>
void gather_rows(const GatherJob& g, int64_t begin, int64_t end) {
  const I* idx = static_cast<const I*>(g.idx);
  for (int64_t u = begin; u < end; ++u) {
    const int64_t o = u / g.k, j = u - o * g.k;
    int64_t v = static_cast<int64_t>(idx[j]);
    if (v < 0) v += g.n;
    copy_bytes(g.dst + static_cast<size_t>(u) * g.chunk,
               g.src + static_cast<size_t>(o * g.n + v) * g.chunk, g.chunk);
  }
}

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(const Node& n) : axis_(n.attrs.get_int("axis", 0)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* data = ctx.input(0);
    const Tensor* ind = ctx.input(1);
    const size_t es = data ? dtype_size(data->dtype()) : 0;
    if (!data || !ind || es == 0 || data->rank() == 0) return ref_gather(ctx);
    const bool idx64 = ind->dtype() == DataType::kInt64;
    if (!idx64 && ind->dtype() != DataType::kInt32) return ref_gather(ctx);
    const int64_t r = data->rank();
    if (axis_ < -r || axis_ >= r) return ref_gather(ctx);
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    const int64_t n = data->dim(axis), k = ind->numel();
    const bool ok =
        idx64 ? in_range(ind->data_as<int64_t>(), k, n) : in_range(ind->data_as<int32_t>(), k, n);
    if (!ok) return ref_gather(ctx);
    const Dims& dd = data->shape();
    Dims& od = thread_dims(0);
    od.assign(dd.begin(), dd.begin() + axis);
    od.insert(od.end(), ind->shape().begin(), ind->shape().end());
    od.insert(od.end(), dd.begin() + axis + 1, dd.end());
    KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data->dtype(), od));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= dd[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < r; ++d) inner *= dd[static_cast<size_t>(d)];
    const size_t chunk = static_cast<size_t>(inner) * es;
    if (chunk == 0 || outer * k == 0) return ok_status();
    GatherJob g{static_cast<const unsigned char*>(data->data()),
                static_cast<unsigned char*>(out->data()),
                ind->data(),
                idx64,
                n,
                k,
                chunk};
    parallel_for(outer * k, std::max<int64_t>(1, kParallelCopyBytes / static_cast<int64_t>(chunk)),
                 [&g](int64_t b, int64_t e) {
                   if (g.idx64)
                     gather_rows<int64_t>(g, b, e);
                   else
                     gather_rows<int32_t>(g, b, e);
                 });
    return ok_status();
  }

 private:
  int64_t axis_;
};

}  // namespace

KernelEntry gather_entry() {
  KernelEntry e;
  e.op_type = "Gather";
  e.name = "cpu_gather";
  e.supports = [](const Node& n) {
    const Value* d = n.input(0);
    const Value* i = n.input(1);
    return d && i && dtype_size(d->dtype) != 0 &&
           (i->dtype == DataType::kInt64 || i->dtype == DataType::kInt32);
  };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<GatherKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
