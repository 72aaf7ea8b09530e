#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {
namespace {

// Three-way compare with NaN after every number and equal to NaN (numpy's unique order).
template <typename C>
int compare_values(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

// Slices along the axis (single elements without one) are stably sorted, so each group's first
// member is its first occurrence; sorted=0 then orders the groups by that occurrence.
Status ref_unique(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Attribute* ax = ctx.attrs().find("axis");
  const bool sorted = ctx.attrs().get_int("sorted", 1) != 0;
  int64_t axis = 0, outer = 1, n = x.numel(), inner = 1;
  if (ax) {
    const int64_t r = x.rank();
    axis = ax->i;
    if (r == 0) return ctx.error("input 0 'X' must have rank >= 1 when axis is given");
    if (axis < -r || axis >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, r));
    if (axis < 0) axis += r;
    outer = indexing::dim_product(x.shape(), 0, static_cast<size_t>(axis));
    n = x.dim(axis);
    inner = indexing::dim_product(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // cmp(a, b): three-way compare of slices a and b.
  std::function<int(int64_t, int64_t)> cmp;
  KILN_RETURN_IF_ERROR(dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data_as<T>();
    cmp = [p, outer, n, inner](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          const int c = compare_values(static_cast<compute_t<T>>(p[(o * n + a) * inner + i]),
                                       static_cast<compute_t<T>>(p[(o * n + b) * inner + i]));
          if (c != 0) return c;
        }
      }
      return 0;
    };
    return ok_status();
  }));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
  // Groups of equal slices in sorted order.
  std::vector<int64_t> first, counts;
  std::vector<int64_t> inverse(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
      first.push_back(order[i]);
      counts.push_back(0);
    }
    counts.back() += 1;
    inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(first.size()) - 1;
  }
  const int64_t g = static_cast<int64_t>(first.size());
  std::vector<int64_t> rank_of(static_cast<size_t>(g));
  std::iota(rank_of.begin(), rank_of.end(), 0);
  if (!sorted) {
    std::vector<int64_t> perm(static_cast<size_t>(g));
    std::iota(perm.begin(), perm.end(), 0);
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return first[static_cast<size_t>(a)] < first[static_cast<size_t>(b)]; });
    std::vector<int64_t> f2, c2;
    for (size_t i = 0; i < perm.size(); ++i) {
      f2.push_back(first[static_cast<size_t>(perm[i])]);
      c2.push_back(counts[static_cast<size_t>(perm[i])]);
      rank_of[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
    }
    first = std::move(f2);
    counts = std::move(c2);
    for (int64_t& v : inverse) v = rank_of[static_cast<size_t>(v)];
  }
  Dims yd{g};
  if (ax) {
    yd = x.shape();
    yd[static_cast<size_t>(axis)] = g;
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), yd));
  const size_t chunk = static_cast<size_t>(inner) * dtype_size(x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.data());
  auto* dst = static_cast<uint8_t*>(y->data());
  for (int64_t o = 0; o < outer && chunk > 0; ++o) {
    for (int64_t j = 0; j < g; ++j) {
      std::memcpy(dst + static_cast<size_t>(o * g + j) * chunk,
                  src + static_cast<size_t>(o * n + first[static_cast<size_t>(j)]) * chunk, chunk);
    }
  }
  auto write = [&](size_t i, const std::vector<int64_t>& v) -> Status {
    if (ctx.num_outputs() <= i) return ok_status();
    KILN_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(i, DataType::kInt64, {static_cast<int64_t>(v.size())}));
    std::copy(v.begin(), v.end(), t->data_as<int64_t>());
    return ok_status();
  };
  KILN_RETURN_IF_ERROR(write(1, first));
  KILN_RETURN_IF_ERROR(write(2, inverse));
  return write(3, counts);
}

}  // namespace kiln
