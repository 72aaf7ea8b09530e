#include <cmath>
#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_one_hot(KernelContext& ctx) {
  const Tensor& ind = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(const Tensor* depth_t, required_input(ctx, 1, "depth"));
  KILN_ASSIGN_OR_RETURN(const Tensor* values, required_input(ctx, 2, "values"));
  if (values->numel() != 2) return ctx.error(fmt::format("input 2 'values' must be [off, on], got {}", values->describe()));
  KILN_ASSIGN_OR_RETURN(int64_t depth, with_node_result(ctx, one_hot_depth(*depth_t)));
  const int64_t out_rank = ind.rank() + 1;
  int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -out_rank || axis >= out_rank) {
    return ctx.error(fmt::format("axis {} is out of range for output rank {}", axis, out_rank));
  }
  if (axis < 0) axis += out_rank;
  Dims out = ind.shape();
  out.insert(out.begin() + axis, depth);
  int64_t inner = 1;
  for (int64_t d = axis; d < ind.rank(); ++d) inner *= ind.dim(d);
  // Indices as int64, -1 where out of range (such rows stay all off).
  std::vector<int64_t> idx(static_cast<size_t>(ind.numel()));
  KILN_RETURN_IF_ERROR(dispatch_numeric(ind.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = ind.data_as<T>();
    for (size_t i = 0; i < idx.size(); ++i) {
      const double v = static_cast<double>(static_cast<compute_t<T>>(p[i]));
      int64_t k = -1;
      if (std::isfinite(v) && v > -static_cast<double>(depth) - 1 && v < static_cast<double>(depth)) {
        k = static_cast<int64_t>(v);
        if (k < 0) k += depth;
        if (k < 0 || k >= depth) k = -1;
      }
      idx[i] = k;
    }
    return ok_status();
  }));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, values->dtype(), out));
  const size_t esize = dtype_size(values->dtype());
  const auto* off = static_cast<const unsigned char*>(values->data());
  const unsigned char* on = off + esize;
  auto* dst = static_cast<unsigned char*>(y->data());
  for (int64_t i = 0; i < y->numel(); ++i) std::memcpy(dst + static_cast<size_t>(i) * esize, off, esize);
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] < 0) continue;
    const int64_t o = static_cast<int64_t>(i) / inner, r = static_cast<int64_t>(i) % inner;
    std::memcpy(dst + static_cast<size_t>((o * depth + idx[i]) * inner + r) * esize, on, esize);
  }
  return ok_status();
}

}  // namespace kiln
