// The cpu backend's oneDNN kernels (f32, plain activation layouts). Each entry's `supports`
// refuses what its kernel cannot express, so such nodes lower to the reference kernel instead.
#pragma once

#include "backends/kernel.h"

namespace kiln::cpu {

KernelEntry conv_entry();          // conv.cpp
KernelEntry fused_conv_entry();    // fused_conv.cpp
KernelEntry matmul_entry();        // matmul.cpp
KernelEntry gemm_entry();          // gemm.cpp
KernelEntry fused_matmul_entry();  // fused_matmul.cpp

// Shared by conv.cpp and fused_conv.cpp (conv_common.cpp).
bool conv_supported(const Node& n, bool fused);
Result<std::unique_ptr<Kernel>> make_conv_kernel(const Node& n, bool fused);

// Shared by matmul.cpp, gemm.cpp and fused_matmul.cpp (matmul_common.cpp).
enum class MatMulFlavor { kMatMul, kGemm, kFused };
bool matmul_supported(const Node& n, MatMulFlavor flavor);
Result<std::unique_ptr<Kernel>> make_matmul_kernel(const Node& n, MatMulFlavor flavor);

// kiln's own vector kernels (not oneDNN; simd_f32.h).
KernelEntry attention_entry();    // attention.cpp: kiln.Attention
KernelEntry softmax_entry();      // softmax.cpp
KernelEntry log_softmax_entry();  // log_softmax.cpp
// Shared by softmax.cpp and log_softmax.cpp (softmax_common.cpp).
bool softmax_supported(const Node& n);
Result<std::unique_ptr<Kernel>> make_softmax_kernel(const Node& n, bool log);

}  // namespace kiln::cpu
