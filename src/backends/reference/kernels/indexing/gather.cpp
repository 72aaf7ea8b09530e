#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "fmt/format.h"

namespace kiln {

// Gather moves whole elements, so it copies bytes and works for every dtype.
Status ref_gather(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Dims& dd = data.shape();
  const int64_t r = data.rank();
  if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
  if (axis < 0) axis += r;
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indexing::read_indices(ctx, 1, "indices"));
  const int64_t n = dd[static_cast<size_t>(axis)];
  for (int64_t& v : idx) KILN_RETURN_IF_ERROR(indexing::normalize_index(ctx, v, n, "gather"));
  Dims od(dd.begin(), dd.begin() + axis);
  od.insert(od.end(), ind.shape().begin(), ind.shape().end());
  od.insert(od.end(), dd.begin() + axis + 1, dd.end());
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), od));
  const int64_t outer = indexing::dim_product(dd, 0, static_cast<size_t>(axis));
  const int64_t inner = indexing::dim_product(dd, static_cast<size_t>(axis) + 1, dd.size());
  const size_t es = dtype_size(data.dtype());
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  const int64_t k = static_cast<int64_t>(idx.size());
  const size_t chunk = static_cast<size_t>(inner) * es;
  if (chunk == 0) return ok_status();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      std::memcpy(dst + static_cast<size_t>(o * k + j) * chunk,
                  src + static_cast<size_t>(o * n + idx[static_cast<size_t>(j)]) * chunk, chunk);
    }
  }
  return ok_status();
}

}  // namespace kiln
