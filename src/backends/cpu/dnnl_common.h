// What the cpu backend's oneDNN kernels share: the engine, the mapping of kiln activations to
// eltwise post-ops, a per-thread scratchpad, and DnnlKernel, the base that caches one primitive per
// input-shape signature and falls back to the reference kernel for shapes oneDNN cannot express.
//
// Thread safety. Kernel::run is const and may run on several ExecutionContexts at once. The cache
// is guarded by a mutex; entries are immutable once published (shared_ptr<const>). oneDNN allows
// one primitive to be executed concurrently from several threads provided the scratchpad is not
// shared: every primitive is created with scratchpad_mode::user and executed with a scratchpad
// from a thread_local buffer of the calling thread, on the calling thread's own dnnl::stream.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/kernel.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

// The process-wide oneDNN CPU engine (thread-safe to share).
const dnnl::engine& dnnl_cpu_engine();

// This CPU's ISA tier as oneDNN names them ("avx512_core_bf16", ...), read with cpuid.
std::string dnnl_isa_name();

// Can `a` be expressed as eltwise post-ops exactly as docs/fused_ops.md defines it?
bool activation_expressible(const ActivationAttr& a);
// Appends `a` to `ops` (nothing for kNone). HardSigmoid takes two post-ops (linear, clip).
void append_activation(dnnl::post_ops& ops, const ActivationAttr& a);

// Memory descriptor for f32 `dims` with row-major (plain) strides.
dnnl::memory::desc plain_f32_desc(const dnnl::memory::dims& dims);
// f32 activations of oneDNN dims N, C, H, W: nhwc in memory when channels_last, else plain nchw.
dnnl::memory::desc activation_f32_desc(const dnnl::memory::dims& nchw, bool channels_last);
// The end pad that makes oneDNN's floor output-size formula give `out` for windows of `kernel`
// taps `dilation` apart (ONNX's ceil_mode and auto_pad included), never below 0.
int64_t dnnl_end_pad(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin);

// A copy of the constant at `data` (laid out as `from`) in layout `to`, owned by the returned memory.
dnnl::memory reorder_constant(const dnnl::memory::desc& from, const dnnl::memory::desc& to, const void* data);

// The calling thread's scratchpad of at least `bytes` (64-byte aligned), as oneDNN memory.
dnnl::memory thread_scratchpad(const dnnl::memory::desc& md);

// Every input of the node that is present is float32 with a known rank; ranks are returned
// (-1 for an absent input).
bool node_inputs_f32(const Node& n, std::vector<int>& ranks);

// One compiled configuration. `ok` false: oneDNN refused it, the reference kernel runs instead.
struct DnnlPlan {
  bool ok = false;
  dnnl::primitive prim;
  dnnl::memory::desc src_md, wei_md, dst_md, bias_md, scratch_md;
  std::vector<dnnl::memory::desc> binary_mds;  // src1 of each binary post-op, in order
  std::vector<int> binary_inputs;               // node input feeding each binary post-op
  std::vector<int> binary_post_op_index;        // its index in the post-op chain
  bool has_weights = true;                       // false for primitives without (pooling)
  dnnl::memory weights;                          // reordered constant weights, when cached
  int bias_input = -1;                           // node input bound to the primitive's bias
  bool copy_residual_to_dst = false;             // sum post-op: Z is copied into Y first
  int residual_input = -1;
  Dims out_dims;
};

// Base of the oneDNN kernels: `run` looks up (or builds, under the mutex) the plan for the
// current input shapes and executes it; any shape the plan builder declines runs the reference.
class DnnlKernel : public Kernel {
 public:
  explicit DnnlKernel(KernelFn reference) : reference_(reference) {}
  Status run(KernelContext& ctx) const final;

 protected:
  // Builds the plan for the inputs in ctx (ok = false to decline). May read constant weights.
  virtual DnnlPlan make_plan(KernelContext& ctx) const = 0;

 private:
  // The reference kernel, on a copy of the in-place input (if any), which output 0 may overwrite.
  Status run_reference(KernelContext& ctx) const;

  KernelFn reference_;
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const DnnlPlan>> plans_;
};

}  // namespace kiln::cpu
