// Helpers shared by the pooling and normalization reference kernels.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "backends/kernel.h"
#include "ir/ops/pool_norm/pool_geometry.h"
#include "kiln/tensor.h"

namespace kiln {

// Input i (a float tensor) read as doubles; `what` names it in errors.
Result<std::vector<double>> read_float_input(const KernelContext& ctx, size_t i, const char* what);
// Allocates output i with this dtype and shape and stores v (rounded once to the dtype).
Status write_float_output(KernelContext& ctx, size_t i, DataType dtype, const Dims& dims, const std::vector<double>& v);

// Whether optional output i is wanted (present and not left empty in the node).
inline bool wants_output(const KernelContext& ctx, size_t i) {
  return i < ctx.num_outputs() && ctx.node().output(i) != nullptr;
}

// Everything a pooling kernel needs about its windows, for an input of shape [N, C, spatial...].
struct PoolPlan {
  PoolGeometry g;
  Dims in_spatial, out_spatial;
  Dims out_dims;  // [N, C, out_spatial...]
  int64_t planes = 0;             // N * C
  int64_t in_plane = 0, out_plane = 0;  // elements per (n, c) plane
  // taps[axis][o] = {first, count}: output position o's window covers the in-bounds input
  // positions first + j * dilation, j < count, along axis (kept as ranges: windows can be huge).
  std::vector<std::vector<std::pair<int64_t, int64_t>>> taps;
};

Result<PoolPlan> make_pool_plan(const KernelContext& ctx, const Tensor& x);
// Fills p.taps; call it after allocating the output, so absurd sizes fail there first.
void build_taps(PoolPlan& p);

// Calls fn(out_offset, in_offsets) for each output position of one plane, where in_offsets are
// the in-bounds window positions as row-major offsets within an input plane.
template <typename Fn>
void for_each_window(const PoolPlan& p, Fn&& fn) {
  const size_t n = p.out_spatial.size();
  if (p.planes <= 0 || p.taps.size() != n) return;  // empty output: make_pool_plan built no taps
  std::vector<int64_t> idx(n, 0), offs, next;
  const int64_t total = element_count(p.out_spatial);
  for (int64_t o = 0; o < total; ++o) {
    offs.assign(1, 0);
    for (size_t d = 0; d < n; ++d) {
      next.clear();
      const auto [first, count] = p.taps[d][static_cast<size_t>(idx[d])];
      for (int64_t base : offs) {
        for (int64_t j = 0; j < count; ++j) next.push_back(base * p.in_spatial[d] + first + j * p.g.dilations[d]);
      }
      offs.swap(next);
    }
    fn(o, offs);
    for (size_t d = n; d-- > 0;) {
      if (++idx[d] < p.out_spatial[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace kiln
