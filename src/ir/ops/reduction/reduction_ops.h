#pragma once

#include "ir/op_schema.h"

namespace kiln {
void register_reduce_ops(OpRegistry& r);  // the ten Reduce* ops (one table, see reduce.cpp)
void register_arg_max(OpRegistry& r);
void register_arg_min(OpRegistry& r);
void register_cum_sum(OpRegistry& r);
void register_softmax(OpRegistry& r);
void register_log_softmax(OpRegistry& r);
void register_hardmax(OpRegistry& r);
void register_top_k(OpRegistry& r);
void register_negative_log_likelihood_loss(OpRegistry& r);
void register_softmax_cross_entropy_loss(OpRegistry& r);
}  // namespace kiln
