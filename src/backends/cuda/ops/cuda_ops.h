// The cuda backend's kernel table entries: thin wrappers that read a node's attributes and
// shapes, queue one of kernels/'s launches on the context's stream and turn its error into a
// Status naming the node. One file per op family; cuda_backend.cpp lists them.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "backends/kernel.h"

namespace kiln::cuda {

std::vector<KernelEntry> device_copy_entries();  // device_copy.cpp: kiln.CopyToDevice, kiln.CopyToHost
std::vector<KernelEntry> unary_entries();        // unary.cpp: activations and unary math
std::vector<KernelEntry> matmul_entries();       // matmul.cpp: MatMul, Gemm, kiln.FusedMatMul on cuBLASLt
std::vector<KernelEntry> conv_entries();         // conv.cpp: channels-last kiln.FusedConv on cuDNN

// The context's stream.
inline cudaStream_t stream_of(const KernelContext& ctx) { return static_cast<cudaStream_t>(ctx.stream()); }
// ok, or the node's error naming the failed launch.
Status launch_status(const KernelContext& ctx, cudaError_t e);
// Every present input and output of the node is float32, float16 or bfloat16 (one of them).
bool node_float_types(const Node& n);

}  // namespace kiln::cuda
