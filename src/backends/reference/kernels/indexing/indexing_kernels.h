// Reference kernels of the indexing family (one file per op; see src/ir/ops/indexing/).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "backends/kernel.h"
#include "core/float16.h"

namespace kiln {

Status ref_gather(KernelContext& ctx);
Status ref_gather_elements(KernelContext& ctx);
Status ref_gather_nd(KernelContext& ctx);
Status ref_scatter_elements(KernelContext& ctx);  // also Scatter
Status ref_scatter_nd(KernelContext& ctx);
Status ref_non_zero(KernelContext& ctx);
Status ref_compress(KernelContext& ctx);
Status ref_unique(KernelContext& ctx);
Status ref_resize(KernelContext& ctx);  // also Upsample
Status ref_grid_sample(KernelContext& ctx);
Status ref_affine_grid(KernelContext& ctx);
Status ref_roi_align(KernelContext& ctx);
Status ref_non_max_suppression(KernelContext& ctx);
Status ref_col2im(KernelContext& ctx);

namespace indexing {

// An int32/int64 tensor's values as int64 (an error naming the input otherwise).
Result<std::vector<int64_t>> read_indices(const KernelContext& ctx, size_t input, const char* name);
// Checks idx against [-n, n) and maps it into [0, n).
Status normalize_index(const KernelContext& ctx, int64_t& idx, int64_t n, const char* what);
// The product of dims[begin, end).
int64_t dim_product(const Dims& dims, size_t begin, size_t end);

// Rounds a computed value once to the output type; integers truncate toward zero (numpy's
// astype) but saturate instead of wrapping.
template <typename T>
inline T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else {
    // Integers: truncation like the reference's astype, saturated instead of wrapping.
    if (std::isnan(v)) return T(0);
    v = std::trunc(v);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

}  // namespace indexing
}  // namespace kiln
