#pragma once

#include "backends/kernel.h"

namespace kiln {
Status ref_max_pool(KernelContext& ctx);
Status ref_average_pool(KernelContext& ctx);
Status ref_lp_pool(KernelContext& ctx);
Status ref_global_average_pool(KernelContext& ctx);
Status ref_global_max_pool(KernelContext& ctx);
Status ref_global_lp_pool(KernelContext& ctx);
Status ref_max_unpool(KernelContext& ctx);
Status ref_batch_normalization(KernelContext& ctx);
Status ref_instance_normalization(KernelContext& ctx);
Status ref_layer_normalization(KernelContext& ctx);
Status ref_group_normalization(KernelContext& ctx);
Status ref_lp_normalization(KernelContext& ctx);
Status ref_mean_variance_normalization(KernelContext& ctx);
Status ref_lrn(KernelContext& ctx);
Status ref_dropout(KernelContext& ctx);
}  // namespace kiln
