#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_gather_nd(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const int64_t b = ctx.attrs().get_int("batch_dims", 0);
  const int64_t r = data.rank(), q = ind.rank();
  if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error(fmt::format("batch_dims {} is out of range", b));
  const int64_t k = ind.dim(q - 1);
  if (k < 1 || k > r - b) return ctx.error(fmt::format("indices' last dim {} must be in [1, {}]", k, r - b));
  for (int64_t i = 0; i < b; ++i) {
    if (data.dim(i) != ind.dim(i)) {
      return ctx.error(fmt::format("batch dim {} differs: data has {}, indices has {}", i, data.dim(i), ind.dim(i)));
    }
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indexing::read_indices(ctx, 1, "indices"));
  const Dims& dd = data.shape();
  Dims od(ind.shape().begin(), ind.shape().end() - 1);
  od.insert(od.end(), dd.begin() + b + k, dd.end());
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), od));
  const std::vector<int64_t> strides = contiguous_strides(dd);
  const int64_t batches = indexing::dim_product(dd, 0, static_cast<size_t>(b));
  const int64_t batch_stride = indexing::dim_product(dd, static_cast<size_t>(b), dd.size());
  const int64_t per_batch = indexing::dim_product(ind.shape(), static_cast<size_t>(b), static_cast<size_t>(q - 1));
  const int64_t slice = indexing::dim_product(dd, static_cast<size_t>(b + k), dd.size());
  const size_t es = dtype_size(data.dtype());
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t j = 0; j < per_batch; ++j) {
      const int64_t t = bi * per_batch + j;
      int64_t off = bi * batch_stride;
      for (int64_t e = 0; e < k; ++e) {
        int64_t v = idx[static_cast<size_t>(t * k + e)];
        KILN_RETURN_IF_ERROR(indexing::normalize_index(ctx, v, dd[static_cast<size_t>(b + e)], "gather_nd"));
        off += v * strides[static_cast<size_t>(b + e)];
      }
      if (slice > 0) {
        std::memcpy(dst + static_cast<size_t>(t * slice) * es, src + static_cast<size_t>(off) * es,
                    static_cast<size_t>(slice) * es);
      }
    }
  }
  return ok_status();
}

}  // namespace kiln
