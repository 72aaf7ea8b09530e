#include <cstring>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_compress(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& cond = *ctx.input(1);
  if (cond.dtype() != DataType::kBool) return ctx.error("input 1 'condition' must be bool");
  if (cond.rank() != 1) return ctx.error(fmt::format("input 1 'condition' has rank {}, expected 1", cond.rank()));
  const bool* c = cond.data_as<bool>();
  const Attribute* ax = ctx.attrs().find("axis");
  int64_t axis = 0, outer = 1, n = x.numel(), inner = 1;
  if (ax) {
    const int64_t r = x.rank();
    axis = ax->i;
    if (axis < -r || axis >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
    if (axis < 0) axis += r;
    outer = indexing::dim_product(x.shape(), 0, static_cast<size_t>(axis));
    n = x.dim(axis);
    inner = indexing::dim_product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  }
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!c[i]) continue;
    if (i >= n) return ctx.error(fmt::format("condition selects index {} but the compressed length is {}", i, n));
    keep.push_back(i);
  }
  const int64_t k = static_cast<int64_t>(keep.size());
  Dims od{k};
  if (ax) {
    od = x.shape();
    od[static_cast<size_t>(axis)] = k;
  }
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, x.dtype(), od));
  const size_t chunk = static_cast<size_t>(inner) * dtype_size(x.dtype());
  if (chunk == 0) return ok_status();
  const auto* src = static_cast<const uint8_t*>(x.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      std::memcpy(dst + static_cast<size_t>(o * k + j) * chunk,
                  src + static_cast<size_t>(o * n + keep[static_cast<size_t>(j)]) * chunk, chunk);
    }
  }
  return ok_status();
}

}  // namespace kiln
