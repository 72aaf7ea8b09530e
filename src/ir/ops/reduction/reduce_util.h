// Helpers shared by the reduction family's schemas and its reference kernels, so that inference
// and the kernels agree on which axes an op reduces.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "kiln/status.h"

namespace kiln {

// ReduceSum took `axes` as an input from opset 13; the other Reduce* ops from opset 18. Before
// that it is an attribute.
inline bool reduce_axes_from_input(const std::string& op_type, int opset) {
  return opset >= (op_type == "ReduceSum" ? 13 : 18);
}

// Maps each axis into [0, rank), rejects out-of-range and repeated axes; sorted ascending.
// The error carries no node name (callers wrap it with ctx.error).
inline Result<std::vector<int64_t>> normalize_reduce_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      return invalid_argument(fmt::format("axis {} is out of range for rank {}", a, rank));
    }
    const int64_t n = a < 0 ? a + rank : a;
    if (std::find(out.begin(), out.end(), n) != out.end()) {
      return invalid_argument(fmt::format("axis {} appears more than once in axes", a));
    }
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The coerced-2D view of Softmax/LogSoftmax/Hardmax before opset 13 and of the per-axis form
// from 13: the tensor as [outer, axis_len, inner]. Before 13 axis_len covers all dims from
// `axis` on and inner is 1.
struct AxisSplit {
  int64_t outer = 1;
  int64_t len = 1;
  int64_t inner = 1;
};
inline AxisSplit split_at_axis(const std::vector<int64_t>& dims, int64_t axis, bool coerce_2d) {
  AxisSplit s;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    const int64_t d = dims[static_cast<size_t>(i)];
    if (i < axis) {
      s.outer *= d;
    } else if (i == axis || coerce_2d) {
      s.len *= d;
    } else {
      s.inner *= d;
    }
  }
  return s;
}

}  // namespace kiln
