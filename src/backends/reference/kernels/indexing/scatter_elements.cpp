#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/kernels/indexing/scatter_reduce.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

// Updates apply in the order of the indices tensor (row-major), so duplicates with
// reduction 'none' keep the last one, as the ONNX reference does.
Status ref_scatter_elements(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  const int64_t r = data.rank();
  if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
  if (ind.rank() != r) return ctx.error(fmt::format("input 1 'indices' has rank {}, expected {}", ind.rank(), r));
  if (upd.shape() != ind.shape()) {
    return ctx.error(fmt::format("input 2 'updates' has shape {}, expected the indices' {}", dims_to_string(upd.shape()),
                                 dims_to_string(ind.shape())));
  }
  if (upd.dtype() != data.dtype()) return ctx.error("input 2 'updates' must have the dtype of data");
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
  if (axis < 0) axis += r;
  indexing::ScatterReduction red;
  const std::string rs = ctx.attrs().get_string("reduction", "none");
  if (!indexing::parse_scatter_reduction(rs, red)) return ctx.error(fmt::format("reduction '{}' is not supported", rs));
  for (int64_t d = 0; d < r; ++d) {
    if (d != axis && ind.dim(d) > data.dim(d)) {
      return ctx.error(fmt::format("indices dim {} is {}, larger than data's {}", d, ind.dim(d), data.dim(d)));
    }
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indexing::read_indices(ctx, 1, "indices"));
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), data.shape()));
  if (data.nbytes() > 0) std::memcpy(out->data(), data.data(), data.nbytes());
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t n = data.dim(axis);
  return dispatch_all(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = out->data_as<T>();
    const T* u = upd.data_as<T>();
    Status st;
    for_each_index(ind.shape(), [&](int64_t lin, const std::vector<int64_t>& pos) {
      if (!st.ok()) return;
      int64_t v = idx[static_cast<size_t>(lin)];
      st = indexing::normalize_index(ctx, v, n, "scatter_elements");
      if (!st.ok()) return;
      int64_t off = 0;
      for (int64_t d = 0; d < r; ++d) off += (d == axis ? v : pos[static_cast<size_t>(d)]) * strides[static_cast<size_t>(d)];
      indexing::scatter_apply(dst[off], u[lin], red);
    });
    return st;
  });
}

}  // namespace kiln
