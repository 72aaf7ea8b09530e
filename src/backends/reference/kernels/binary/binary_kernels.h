#pragma once

#include "backends/kernel.h"

namespace kiln {
Status ref_add(KernelContext& ctx);
Status ref_sub(KernelContext& ctx);
Status ref_mul(KernelContext& ctx);
Status ref_div(KernelContext& ctx);
Status ref_pow(KernelContext& ctx);
Status ref_mod(KernelContext& ctx);
Status ref_bitshift(KernelContext& ctx);
Status ref_and(KernelContext& ctx);
Status ref_or(KernelContext& ctx);
Status ref_xor(KernelContext& ctx);
Status ref_bitwise_and(KernelContext& ctx);
Status ref_bitwise_or(KernelContext& ctx);
Status ref_bitwise_xor(KernelContext& ctx);
Status ref_equal(KernelContext& ctx);
Status ref_greater(KernelContext& ctx);
Status ref_greater_or_equal(KernelContext& ctx);
Status ref_less(KernelContext& ctx);
Status ref_less_or_equal(KernelContext& ctx);
Status ref_max(KernelContext& ctx);
Status ref_min(KernelContext& ctx);
Status ref_sum(KernelContext& ctx);
Status ref_mean(KernelContext& ctx);
Status ref_where(KernelContext& ctx);
}  // namespace kiln
