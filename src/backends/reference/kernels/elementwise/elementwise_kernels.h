#pragma once

#include "backends/kernel.h"

namespace kiln {

Status ref_relu(KernelContext& ctx);

// unary_math.cpp
Status ref_abs(KernelContext& ctx);
Status ref_neg(KernelContext& ctx);
Status ref_reciprocal(KernelContext& ctx);
Status ref_sqrt(KernelContext& ctx);
Status ref_exp(KernelContext& ctx);
Status ref_log(KernelContext& ctx);
Status ref_ceil(KernelContext& ctx);
Status ref_floor(KernelContext& ctx);
Status ref_round(KernelContext& ctx);
Status ref_sign(KernelContext& ctx);
Status ref_erf(KernelContext& ctx);
Status ref_sin(KernelContext& ctx);
Status ref_cos(KernelContext& ctx);
Status ref_tan(KernelContext& ctx);
Status ref_asin(KernelContext& ctx);
Status ref_acos(KernelContext& ctx);
Status ref_atan(KernelContext& ctx);
Status ref_sinh(KernelContext& ctx);
Status ref_cosh(KernelContext& ctx);
Status ref_asinh(KernelContext& ctx);
Status ref_acosh(KernelContext& ctx);
Status ref_atanh(KernelContext& ctx);
Status ref_isnan(KernelContext& ctx);
Status ref_isinf(KernelContext& ctx);
Status ref_not(KernelContext& ctx);
Status ref_bitwise_not(KernelContext& ctx);

// activations.cpp
Status ref_leaky_relu(KernelContext& ctx);
Status ref_elu(KernelContext& ctx);
Status ref_selu(KernelContext& ctx);
Status ref_celu(KernelContext& ctx);
Status ref_sigmoid(KernelContext& ctx);
Status ref_hard_sigmoid(KernelContext& ctx);
Status ref_hard_swish(KernelContext& ctx);
Status ref_softplus(KernelContext& ctx);
Status ref_softsign(KernelContext& ctx);
Status ref_mish(KernelContext& ctx);
Status ref_gelu(KernelContext& ctx);
Status ref_thresholded_relu(KernelContext& ctx);
Status ref_shrink(KernelContext& ctx);
Status ref_tanh(KernelContext& ctx);

Status ref_prelu(KernelContext& ctx);
Status ref_clip(KernelContext& ctx);
Status ref_identity(KernelContext& ctx);
Status ref_cast(KernelContext& ctx);
Status ref_cast_like(KernelContext& ctx);

}  // namespace kiln
