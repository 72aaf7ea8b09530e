// One registration function per op family; each lives in src/ir/ops/<family>/register.cpp and
// calls one line per op (each op's schema is in its own file in that folder).
#pragma once

#include "ir/op_schema.h"

namespace kiln {
void register_elementwise_ops(OpRegistry& r);
void register_binary_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_pool_norm_ops(OpRegistry& r);
void register_tensor_ops(OpRegistry& r);
void register_indexing_ops(OpRegistry& r);
void register_control_ops(OpRegistry& r);
void register_fused_ops(OpRegistry& r);  // the kiln domain: what the optimizer fuses
}  // namespace kiln
