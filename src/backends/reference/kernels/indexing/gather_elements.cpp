#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_gather_elements(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const int64_t r = data.rank();
  if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
  if (ind.rank() != r) {
    return ctx.error(fmt::format("input 1 'indices' has rank {}, expected {}", ind.rank(), r));
  }
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -r || axis >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
  if (axis < 0) axis += r;
  for (int64_t d = 0; d < r; ++d) {
    if (d != axis && ind.dim(d) > data.dim(d)) {
      return ctx.error(fmt::format("indices dim {} is {}, larger than data's {}", d, ind.dim(d), data.dim(d)));
    }
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indexing::read_indices(ctx, 1, "indices"));
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, data.dtype(), ind.shape()));
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t n = data.dim(axis);
  const size_t es = dtype_size(data.dtype());
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  Status st;
  for_each_index(ind.shape(), [&](int64_t lin, const std::vector<int64_t>& pos) {
    if (!st.ok()) return;
    int64_t v = idx[static_cast<size_t>(lin)];
    st = indexing::normalize_index(ctx, v, n, "gather_elements");
    if (!st.ok()) return;
    int64_t off = 0;
    for (int64_t d = 0; d < r; ++d) off += (d == axis ? v : pos[static_cast<size_t>(d)]) * strides[static_cast<size_t>(d)];
    std::memcpy(dst + static_cast<size_t>(lin) * es, src + static_cast<size_t>(off) * es, es);
  });
  return st;
}

}  // namespace kiln
