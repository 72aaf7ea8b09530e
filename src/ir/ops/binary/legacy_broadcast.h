// Before opset 7, binary ops broadcast only B to A, only with broadcast=1, and an 'axis'
// attribute said at which dim of A the dims of B start (default: trailing dims, which is what
// numpy broadcasting does anyway). Shared by inference and the reference kernels so both agree.
#pragma once

#include <cstdint>
#include <vector>

#include "fmt/format.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

// True when the node uses the pre-opset-7 axis placement of its second input.
inline bool uses_legacy_axis(const Node& n) {
  return n.opset > 0 && n.opset < 7 && n.attrs.get_int("broadcast", 0) == 1 && n.attrs.has("axis");
}

// B's dims placed at `axis` of A's rank, padded with `one` elsewhere.
template <typename D>
Result<std::vector<D>> legacy_align(size_t a_rank, const std::vector<D>& b, int64_t axis,
                                    const D& one) {
  const int64_t r = static_cast<int64_t>(a_rank);
  const int64_t br = static_cast<int64_t>(b.size());
  const int64_t ax = axis < 0 ? axis + r : axis;
  if (ax < 0 || ax + br > r) {
    return invalid_argument(fmt::format(
        "legacy broadcast axis {} does not fit input B of rank {} into input A of rank {}", axis,
        br, r));
  }
  std::vector<D> out(a_rank, one);
  for (int64_t i = 0; i < br; ++i) out[static_cast<size_t>(ax + i)] = b[static_cast<size_t>(i)];
  return out;
}

}  // namespace kiln
