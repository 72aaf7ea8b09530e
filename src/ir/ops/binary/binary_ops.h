#pragma once

#include "ir/op_schema.h"

namespace kiln {
void register_add(OpRegistry& r);
void register_sub(OpRegistry& r);
void register_mul(OpRegistry& r);
void register_div(OpRegistry& r);
void register_pow(OpRegistry& r);
void register_mod(OpRegistry& r);
void register_bitshift(OpRegistry& r);
void register_and(OpRegistry& r);
void register_or(OpRegistry& r);
void register_xor(OpRegistry& r);
void register_bitwise_and(OpRegistry& r);
void register_bitwise_or(OpRegistry& r);
void register_bitwise_xor(OpRegistry& r);
void register_equal(OpRegistry& r);
void register_greater(OpRegistry& r);
void register_greater_or_equal(OpRegistry& r);
void register_less(OpRegistry& r);
void register_less_or_equal(OpRegistry& r);
void register_max(OpRegistry& r);
void register_min(OpRegistry& r);
void register_sum(OpRegistry& r);
void register_mean(OpRegistry& r);
void register_where(OpRegistry& r);
}  // namespace kiln
