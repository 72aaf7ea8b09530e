// The cuda backend's kernel table entries: thin wrappers that read a node's attributes and
// shapes, queue one of kernels/'s launches on the context's stream and turn its error into a
// Status naming the node. One file per op family; cuda_backend.cpp lists them.
#pragma once

#include <cuda_runtime_api.h>

#include <optional>
#include <vector>

#include "backends/kernel.h"

namespace kiln::cuda {

std::vector<KernelEntry> device_copy_entries();  // device_copy.cpp: kiln.CopyToDevice, kiln.CopyToHost
std::vector<KernelEntry> unary_entries();        // unary.cpp: activations and unary math
std::vector<KernelEntry> matmul_entries();       // matmul.cpp: MatMul, Gemm, kiln.FusedMatMul on cuBLASLt
std::vector<KernelEntry> conv_entries();         // conv.cpp: channels-last kiln.FusedConv on cuDNN
std::vector<KernelEntry> binary_entries();       // binary.cpp: Add, Sub, Mul, Div, Max, Min, Pow (+ int Add/Sub/Mul)
std::vector<KernelEntry> cast_entries();         // cast.cpp: Cast between float, integer and bool types
std::vector<KernelEntry> fused_pointwise_entries();  // fused_pointwise.cpp: kiln.FusedPointwise
std::vector<KernelEntry> norm_entries();         // norm.cpp: LayerNormalization, kiln.RMSNormalization
std::vector<KernelEntry> softmax_entries();      // softmax.cpp: Softmax, LogSoftmax
std::vector<KernelEntry> reduce_entries();       // reduce.cpp: ReduceSum, ReduceMean, ReduceMax
std::vector<KernelEntry> copy_entries();         // copy.cpp: Transpose, Concat, Split, Slice, Gather, Expand
std::vector<KernelEntry> gather_nd_entries();    // gather_nd.cpp: GatherND
std::vector<KernelEntry> shape_op_entries();     // shape_ops.cpp: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
std::vector<KernelEntry> attention_entries();    // attention.cpp: kiln.Attention
std::vector<KernelEntry> pool_entries();         // pool.cpp: MaxPool, kiln.MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
std::vector<KernelEntry> logic_entries();        // logic.cpp: comparisons, Not/And/Or/Xor, Where

// The context's stream.
inline cudaStream_t stream_of(const KernelContext& ctx) { return static_cast<cudaStream_t>(ctx.stream()); }
// ok, or the node's error naming the failed launch.
Status launch_status(const KernelContext& ctx, cudaError_t e);
// Every present input and output of the node is float32, float16 or bfloat16 (one of them).
bool node_float_types(const Node& n);

// --- shared by the wrappers (op_util.cpp) -------------------------------------------------------
// A `supports` decides at build time: a node it accepts runs on the device with its inputs in
// device memory, where a kernel can no longer hand it to the reference. So what a wrapper cannot
// settle from the node (ranks, constant operands) it refuses, and the node falls back.

// v's rank when inference knows it.
std::optional<size_t> known_rank(const Value* v);
// v is present with a known rank of at most max_rank.
bool rank_at_most(const Value* v, size_t max_rank);
// Dim d of v when known (>= 0), else -1.
int64_t known_dim(const Value* v, size_t d);
// The values of a constant int32/int64 tensor; nullopt when v is absent, not constant or another
// dtype.
std::optional<std::vector<int64_t>> constant_ints(const Value* v);
// Every present input and output has dtype t.
bool all_of_dtype(const Node& n, DataType t);
// The output is unused: absent, or read by nothing and not a graph output (its value may then be
// left unwritten: no reader sees it).
bool output_unused(const Node& n, size_t i);

// An int input that decides an output's shape (Reshape's shape, Slice's starts, ...) and is read
// in host memory: its values must be known when a run is planned, since the device arena is sized
// then. A graph input's are not (they come with the run); values computed from shapes and
// constants are. Absent: true.
bool shape_input_plannable(const Value* v);
// Shape arithmetic: an int32/int64 tensor of rank 0 or 1 (Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape). Data movement leaves it to the host, which computes it ahead of the run once per input
// shape; a device node would run, with copies both ways, on every run.
bool is_shape_arithmetic(const Value* v);

// A function kernel entry (op_type in `domain`, name cuda_<...>).
KernelEntry function_entry(const std::string& domain, const std::string& op_type, const std::string& name,
                           std::function<bool(const Node&)> supports, KernelFn fn);

// An entry whose kernel is made as K(node) (op_type in `domain`), with the inputs it reads in host
// memory.
template <typename K>
KernelEntry node_entry(const std::string& domain, const std::string& op_type, const std::string& name,
                       std::function<bool(const Node&)> supports, std::vector<size_t> host_inputs = {}) {
  KernelEntry e;
  e.domain = domain;
  e.op_type = op_type;
  e.name = name;
  e.supports = std::move(supports);
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<K>(n)); };
  e.host_inputs = std::move(host_inputs);
  return e;
}

// Output `i` of dtype and dims filled with x's bytes by one device-to-device copy on the
// context's stream (the shape ops: same elements, another shape).
Status copy_into_output(KernelContext& ctx, size_t i, const Tensor& x, const Dims& dims);

}  // namespace kiln::cuda
