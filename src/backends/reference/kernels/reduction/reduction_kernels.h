#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backends/kernel.h"
#include "core/dispatch.h"

namespace kiln {

Status ref_reduce_sum(KernelContext& ctx);
Status ref_reduce_mean(KernelContext& ctx);
Status ref_reduce_max(KernelContext& ctx);
Status ref_reduce_min(KernelContext& ctx);
Status ref_reduce_prod(KernelContext& ctx);
Status ref_reduce_l1(KernelContext& ctx);
Status ref_reduce_l2(KernelContext& ctx);
Status ref_reduce_log_sum(KernelContext& ctx);
Status ref_reduce_log_sum_exp(KernelContext& ctx);
Status ref_reduce_sum_square(KernelContext& ctx);
Status ref_arg_max(KernelContext& ctx);
Status ref_arg_min(KernelContext& ctx);
Status ref_cum_sum(KernelContext& ctx);
Status ref_softmax(KernelContext& ctx);
Status ref_log_softmax(KernelContext& ctx);
Status ref_hardmax(KernelContext& ctx);
Status ref_top_k(KernelContext& ctx);
Status ref_negative_log_likelihood_loss(KernelContext& ctx);
Status ref_softmax_cross_entropy_loss(KernelContext& ctx);

// --- small helpers shared by this family's kernels ---

template <typename T>
inline constexpr bool kIsFloatElem =
    std::is_floating_point_v<T> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

template <typename T>
double elem_to_double(T v) {
  return static_cast<double>(static_cast<compute_t<T>>(v));
}

// Stores a double into T: floats round once; integers truncate toward zero and saturate (NaN
// gives 0) so that out-of-range values are never undefined behaviour.
template <typename T>
T elem_from_double(double v) {
  if constexpr (kIsFloatElem<T>) {
    return static_cast<T>(static_cast<compute_t<T>>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <typename C>
bool is_nan_value(C v) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

}  // namespace kiln
