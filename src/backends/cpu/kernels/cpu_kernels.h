// The cpu backend's oneDNN kernels (f32, plain activation layouts). Each entry's `supports`
// refuses what its kernel cannot express, so such nodes lower to the reference kernel instead.
#pragma once

#include <vector>

#include "backends/kernel.h"

namespace kiln::cpu {

KernelEntry conv_entry();          // conv.cpp
KernelEntry fused_conv_entry();    // fused_conv.cpp
KernelEntry matmul_entry();        // matmul.cpp
KernelEntry gemm_entry();          // gemm.cpp
KernelEntry fused_matmul_entry();  // fused_matmul.cpp
KernelEntry max_pool_entry();       // max_pool.cpp: ONNX MaxPool
KernelEntry kiln_max_pool_entry();  // max_pool.cpp: kiln.MaxPool (channels-last)

// kiln's own kernels (f32 normalization; data movement for every dtype).
KernelEntry layer_normalization_entry();  // layer_normalization.cpp
KernelEntry rms_normalization_entry();    // rms_normalization.cpp
KernelEntry split_entry();                // split.cpp
KernelEntry concat_entry();               // concat.cpp
KernelEntry transpose_entry();            // transpose.cpp
KernelEntry gather_entry();               // gather.cpp
KernelEntry slice_entry();                // slice.cpp

// Shared by conv.cpp and fused_conv.cpp (conv_common.cpp).
bool conv_supported(const Node& n, bool fused);
Result<std::unique_ptr<Kernel>> make_conv_kernel(const Node& n, bool fused);

// Shared by matmul.cpp, gemm.cpp and fused_matmul.cpp (matmul_common.cpp).
enum class MatMulFlavor { kMatMul, kGemm, kFused };
bool matmul_supported(const Node& n, MatMulFlavor flavor);
Result<std::unique_ptr<Kernel>> make_matmul_kernel(const Node& n, MatMulFlavor flavor);

// kiln's own vectorized kernels (pointwise.h): f32 elementwise ops and reductions.
KernelEntry fused_pointwise_entry();         // fused_pointwise.cpp
KernelEntry global_average_pool_entry();     // global_average_pool.cpp
std::vector<KernelEntry> unary_entries();    // unary.cpp: Relu, Sigmoid, Gelu, Exp, Clip, ...
std::vector<KernelEntry> binary_entries();   // binary.cpp: Add, Sub, Mul, Div, Max, Min
std::vector<KernelEntry> reduce_entries();   // reduce.cpp: ReduceSum, ReduceMean, ReduceMax
// kiln's own vector kernels (not oneDNN; vec_f32.h).
KernelEntry attention_entry();    // attention.cpp: kiln.Attention
KernelEntry softmax_entry();      // softmax.cpp
KernelEntry log_softmax_entry();  // log_softmax.cpp
// Shared by softmax.cpp and log_softmax.cpp (softmax_common.cpp).
bool softmax_supported(const Node& n);
Result<std::unique_ptr<Kernel>> make_softmax_kernel(const Node& n, bool log);

}  // namespace kiln::cpu
