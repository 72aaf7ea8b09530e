// One registration function per op family; each lives in
// src/backends/reference/kernels/<family>/register.cpp with one line per op.
#pragma once

#include "backends/kernel.h"

namespace kiln {
void register_elementwise_kernels(KernelTable& t);
void register_binary_kernels(KernelTable& t);
void register_reduction_kernels(KernelTable& t);
void register_linalg_kernels(KernelTable& t);
void register_pool_norm_kernels(KernelTable& t);
void register_tensor_kernels(KernelTable& t);
void register_indexing_kernels(KernelTable& t);
void register_control_kernels(KernelTable& t);
void register_fused_kernels(KernelTable& t);  // the kiln domain
}  // namespace kiln
