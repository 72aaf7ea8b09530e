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
#include <thread>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/kernel.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

// The process-wide oneDNN CPU engine (thread-safe to share).
const dnnl::engine& dnnl_cpu_engine();

// This CPU's ISA tier as oneDNN names them ("avx512_core_bf16", ...), read with cpuid.
std::string dnnl_isa_name();
// Does this CPU compute bf16 products natively (AVX-512 BF16 or AMX)?
bool has_native_bf16();

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

// The calling thread's buffer number `slot` (0: scratchpads, 1: operands converted to the
// precision the primitive computes in) of at least `bytes`, 64-byte aligned; it only grows.
void* thread_buffer(int slot, size_t bytes);

struct DnnlPlan;
// The oneDNN memory objects one thread executes a plan with: made on the thread's first run of
// the plan, then re-pointed at each run's buffers (set_data_handle), so a run creates no oneDNN
// objects and builds no argument map.
struct DnnlBindings {
  std::unordered_map<int, dnnl::memory> args;          // the primitive's
  std::unordered_map<int, dnnl::memory> convert_args;  // bf16 plans: the source conversion's
  // The same as oneDNN's C API takes them, built once: the C++ execute would copy the maps into
  // a fresh vector on every call.
  std::vector<dnnl_exec_arg_t> c_args, c_convert_args;
};
class DnnlBindingCache {
 public:
  DnnlBindings& for_this_thread(const DnnlPlan& plan);

 private:
  std::mutex mu_;
  std::unordered_map<std::thread::id, std::unique_ptr<DnnlBindings>> by_thread_;
};

// Every input of the node that is present is float32 with a known rank; ranks are returned
// (-1 for an absent input).
bool node_inputs_f32(const Node& n, std::vector<int>& ranks);

// KernelEntry::computes_in for the oneDNN products: bf16 when the weights (input 1) are constant
// and this CPU has native bf16; products of two activations stay fp32.
bool dnnl_product_computes_in(const Node& n, const std::string& precision);
// KernelEntry::pack for a oneDNN kernel made by `make`, at `shapes` (the first profile's: the
// weights are packed once, whatever the profiles).
Result<Attributes> pack_dnnl_weights(Result<std::unique_ptr<Kernel>> made, const Node& n, const BuildShapes& shapes);

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
  // bf16 layers: the reorder that converts the f32 source into src_compute_md before the product.
  dnnl::primitive src_convert;
  dnnl::memory::desc src_compute_md;
  int bias_input = -1;                           // node input bound to the primitive's bias
  bool copy_residual_to_dst = false;             // sum post-op: Z is copied into Y first
  int residual_input = -1;
  Dims out_dims;
  std::shared_ptr<DnnlBindingCache> bindings = std::make_shared<DnnlBindingCache>();
};

// Base of the oneDNN kernels: `run` looks up (or builds, under the mutex) the plan for the
// current input shapes and executes it; any shape the plan builder declines runs the reference.
class DnnlKernel : public Kernel {
 public:
  // Reads the node's precision and the weights packed at build time (Node::backend_data).
  DnnlKernel(KernelFn reference, const Node& n);
  Status run(KernelContext& ctx) const final;
  // Build time: the constant weights packed for the build shapes, in the layout (and
  // precision) the primitive chooses there, as backend_data; nothing when the shapes are not
  // static, the weights not constant or oneDNN declines.
  Result<Attributes> pack(const Node& n, const BuildShapes& shapes) const;

 protected:
  // Builds the plan for the inputs in ctx (ok = false to decline). May read constant weights.
  virtual DnnlPlan make_plan(KernelContext& ctx) const = 0;
  // The constant weights at `data` (laid out as `plain`) in the layout `wanted`: the build-time
  // packed copy itself when it is in that layout (no copy: it lives in the engine's mapping),
  // else reordered from it or from `plain` into memory the plan keeps.
  dnnl::memory constant_weights(const dnnl::memory::desc& plain, const dnnl::memory::desc& wanted, const void* data) const;
  // Products in bfloat16 (the node's precision is "bf16"): weights and source converted, fp32
  // accumulation and output.
  bool bf16() const { return bf16_; }
  // Sets the plan's source conversion to bf16 when this layer computes in it; returns the
  // descriptor the primitive should be created with for its source.
  dnnl::memory::desc compute_src_desc(DnnlPlan& plan, const dnnl::memory::desc& src_md) const;

 private:
  // The reference kernel, on a copy of the in-place input (if any), which output 0 may overwrite.
  Status run_reference(KernelContext& ctx) const;

  KernelFn reference_;
  bool bf16_ = false;
  // Build-time packed weights (valid only when made by this oneDNN version).
  bool has_packed_ = false;
  dnnl::memory::desc packed_desc_;
  Tensor packed_data_;
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const DnnlPlan>> plans_;
};

}  // namespace kiln::cpu
