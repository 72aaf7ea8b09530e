#include "ir/ops/linalg/quant_util.h"

#include "fmt/format.h"

namespace kiln {

Result<QuantLayout> quant_layout(const Dims& x, const Dims& scale, int64_t axis, int64_t block_size,
                                 const char* scale_name) {
  QuantLayout q;
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t n = element_count(scale);
  if (block_size < 0)
    return invalid_argument(fmt::format("attribute 'block_size' is {}, expected >= 0", block_size));
  // Any one-element scale is per tensor (as in the ONNX reference).
  if (n == 1) return q;
  if (block_size == 0 && scale.size() != 1) {
    return invalid_argument(
        fmt::format("input '{}' has shape [{}], expected a scalar or a 1-D tensor", scale_name,
                    dims_to_string(scale)));
  }
  if (axis < -rank || axis >= rank) {
    return invalid_argument(
        fmt::format("attribute 'axis' {} is out of range for rank {}", axis, rank));
  }
  q.axis = axis < 0 ? axis + rank : axis;
  q.dim = x[static_cast<size_t>(q.axis)];
  for (int64_t i = 0; i < q.axis; ++i) q.outer *= x[static_cast<size_t>(i)];
  for (int64_t i = q.axis + 1; i < rank; ++i) q.inner *= x[static_cast<size_t>(i)];
  if (block_size == 0) {
    if (scale[0] != q.dim) {
      return invalid_argument(
          fmt::format("input '{}' has {} values, expected {} (x's dim {} for axis {})", scale_name,
                      scale[0], q.dim, q.dim, q.axis));
    }
    q.kind = QuantLayout::Kind::kAxis;
    return q;
  }
  q.kind = QuantLayout::Kind::kBlocked;
  q.block = block_size;
  if (static_cast<int64_t>(scale.size()) != rank) {
    return invalid_argument(
        fmt::format("input '{}' has rank {}, expected {} for blocked quantization", scale_name,
                    scale.size(), rank));
  }
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t want = i == q.axis ? (x[static_cast<size_t>(i)] + block_size - 1) / block_size
                                     : x[static_cast<size_t>(i)];
    if (scale[static_cast<size_t>(i)] != want) {
      return invalid_argument(
          fmt::format("input '{}' has shape [{}], expected dim {} to be {} (block_size {})",
                      scale_name, dims_to_string(scale), i, want, block_size));
    }
  }
  return q;
}

}  // namespace kiln
