#pragma once

#include "ir/op_schema.h"

namespace kiln {
void register_max_pool(OpRegistry& r);
void register_average_pool(OpRegistry& r);
void register_lp_pool(OpRegistry& r);
void register_global_pools(OpRegistry& r);
void register_max_unpool(OpRegistry& r);
void register_batch_normalization(OpRegistry& r);
void register_instance_normalization(OpRegistry& r);
void register_layer_normalization(OpRegistry& r);
void register_group_normalization(OpRegistry& r);
void register_lp_normalization(OpRegistry& r);
void register_mean_variance_normalization(OpRegistry& r);
void register_lrn(OpRegistry& r);
void register_dropout(OpRegistry& r);
}  // namespace kiln
