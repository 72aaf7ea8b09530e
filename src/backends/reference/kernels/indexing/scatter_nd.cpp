#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/kernels/indexing/scatter_reduce.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_scatter_nd(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  const int64_t r = data.rank(), q = ind.rank();
  if (r < 1 || q < 1) return ctx.error("data and indices must have rank >= 1");
  const int64_t k = ind.dim(q - 1);
  if (k < 1 || k > r) return ctx.error(fmt::format("indices' last dim {} must be in [1, {}]", k, r));
  Dims expect(ind.shape().begin(), ind.shape().end() - 1);
  expect.insert(expect.end(), data.shape().begin() + k, data.shape().end());
  if (upd.shape() != expect) {
    return ctx.error(fmt::format("input 2 'updates' has shape {}, expected {}", dims_to_string(upd.shape()),
                                 dims_to_string(expect)));
  }
  if (upd.dtype() != data.dtype()) return ctx.error("input 2 'updates' must have the dtype of data");
  indexing::ScatterReduction red;
  const std::string rs = ctx.attrs().get_string("reduction", "none");
  if (!indexing::parse_scatter_reduction(rs, red)) return ctx.error(fmt::format("reduction '{}' is not supported", rs));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indexing::read_indices(ctx, 1, "indices"));
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), data.shape()));
  if (data.nbytes() > 0) std::memcpy(out->data(), data.data(), data.nbytes());
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t tuples = indexing::dim_product(ind.shape(), 0, static_cast<size_t>(q - 1));
  const int64_t slice = indexing::dim_product(data.shape(), static_cast<size_t>(k), data.shape().size());
  return dispatch_all(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = out->data_as<T>();
    const T* u = upd.data_as<T>();
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t e = 0; e < k; ++e) {
        int64_t v = idx[static_cast<size_t>(t * k + e)];
        KILN_RETURN_IF_ERROR(indexing::normalize_index(ctx, v, data.dim(e), "scatter_nd"));
        off += v * strides[static_cast<size_t>(e)];
      }
      for (int64_t s = 0; s < slice; ++s) indexing::scatter_apply(dst[off + s], u[t * slice + s], red);
    }
    return ok_status();
  });
}

}  // namespace kiln
