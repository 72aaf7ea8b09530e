// kiln's public C++ API: build an engine from ONNX, save and load it, run it.
//
//   kiln::BuilderConfig config;                 // backend "cpu", fp32
//   kiln::Builder builder(config);
//   auto engine = builder.build_from_file("model.onnx");   // Result<Engine>
//   engine->save("model.kiln");
//   auto ctx = engine->create_execution_context();        // one per thread / caller
//   kiln::NamedTensors out;
//   ctx->run({{"x", x}}, &out);
//
// An Engine is immutable and may be shared by any number of ExecutionContexts running at once
// on different threads. An ExecutionContext is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

const char* version();

using NamedTensors = std::map<std::string, Tensor>;

// The range one input's shape may take at run time. A dim with min == max is fixed.
struct InputRange {
  std::string input;
  Dims min, opt, max;
};

struct BuilderConfig {
  std::string backend = "cpu";  // see available_backends(); "reference" is the plain oracle
  std::string precision = "fp32";     // fp32 | fp16 | bf16 (where the backend supports it)
  bool allow_tf32 = true;             // cuda: float32 products may use TF32 tensor cores
  int opt_level = 3;                  // 0 none, 1 cleanup + folding, 2 fusions, 3 layout (all)
  std::vector<std::string> disabled_passes;
  // Optional: the ranges inputs with symbolic dims may take at run time. `profiles` holds several
  // optimization profiles (each names the same inputs); a run's shapes must fit at least one. A
  // dim stays symbolic unless every profile pins it (min == max) to the same value. Kernels are
  // packed and tuned for the first profile's opt shapes; at other shapes the cuda kernels fall
  // back to the libraries' heuristics. `profile` is the one-profile form: used when `profiles` is
  // empty (setting both is an error).
  std::vector<InputRange> profile;
  std::vector<std::vector<InputRange>> profiles;
  // The profiles the build uses: `profiles`, else `profile` alone (none if both are empty).
  std::vector<std::vector<InputRange>> all_profiles() const;
  // A progress line on a terminal (never when not a tty) and, when kernels were tuned, a
  // one-line summary on stderr ("tuned 53 layers in 4.2 s (53 from the timing cache)").
  bool show_progress = true;
  // Time the candidate implementations of each layer at the build shapes (the first profile's
  // opt shapes) on the device and keep the fastest, where the backend can (cuda: cuDNN engine
  // configurations, cuBLASLt algorithms); off: the libraries' heuristics choose at run time.
  bool tune_kernels = true;
  // A file of earlier tuning choices (backends/timing_cache.h): read at the start of the build,
  // consulted before timing, written back at the end. A missing file is created; a file that is
  // not a timing cache is an error. Empty: no cache.
  std::string timing_cache;
};

// One tensor the engine takes or gives. Symbolic dims are -1 in `dims`, named in `symbols`.
struct IoInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Dims dims;
  std::vector<std::string> symbols;  // per dim: the symbol name, or "" for a fixed dim
  std::string shape_string() const;  // "batchx3x224x224"
};

struct LayerInfo {
  std::string name;
  std::string op;      // "Conv" for ai.onnx ops, "kiln.FusedConv" (domain.op) for others
  std::string detail;  // what a fused op folded in: "bias+add+Relu", "Mul>Add>Relu", "heads=12 mask"
  std::string backend;
  std::string kernel;
  // The precision the kernel computes in when it is not the model's own ("bf16"); empty otherwise.
  std::string precision;
  // What build-time tuning chose, one choice per problem tuned, "; " between: "at 1x40: cuDNN engine 7 (tuned 0.031 ms)".
  std::string tuning;
  std::vector<std::string> fused_from;  // the ONNX nodes this layer came from
  std::vector<std::string> inputs, outputs;  // value names; "" for an optional input left out
  std::vector<std::string> input_types, output_types;  // "float32[1,64,56,56]" or symbolic
  std::vector<bool> input_is_weight;  // per input: a constant stored in the engine (weights)
};

struct EngineInfo {
  uint32_t format_version = 0;
  std::string producer;
  std::string backend;
  std::string device;
  std::string source_sha256;
  std::string source_name;
  std::map<std::string, std::string> build_options;
  std::vector<IoInfo> inputs, outputs;
  std::vector<LayerInfo> layers;
  size_t onnx_nodes = 0;
  size_t weights_bytes = 0;
  // Copies of weights the kernels rearranged at build time (packed layouts, lower precision).
  size_t packed_weights_bytes = 0;
  // The engine's shape profiles (BuilderConfig::profiles); empty when it was built without one.
  std::vector<std::vector<InputRange>> profiles;
  // Arena bytes for one run at the first profile's opt shapes (or the fixed shapes); -1 if the shapes
  // are data-dependent and cannot be planned ahead.
  int64_t activation_bytes = -1;
};

class ExecutionContext;
struct EngineState;

// A tensor in the memory of the engine's device (GPU memory for the cuda backend), for
// ExecutionContext::run_on_device. `data` is a device pointer; the tensor is row-major and
// contiguous, as a host Tensor is. kiln never owns or frees it.
struct DeviceTensor {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  void* data = nullptr;
};
using NamedDeviceTensors = std::map<std::string, DeviceTensor>;

class Engine {
 public:
  // Loads an engine file: an mmap and integrity checks. A file of another format version or for
  // another device kind is refused with a sentence that says which; a damaged file is an error.
  static Result<Engine> load(const std::string& path);
  static Result<Engine> load_from_memory(const std::string& bytes);

  Status save(const std::string& path) const;
  Result<std::string> serialize() const;

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;
  EngineInfo info() const;

  Result<std::unique_ptr<ExecutionContext>> create_execution_context() const;
  // Whether some of the engine's layers compute in device memory (the cuda backend): only such
  // engines take run_on_device and CUDA graphs.
  bool uses_device() const;

  explicit Engine(std::shared_ptr<const EngineState> state);
  const std::shared_ptr<const EngineState>& state() const { return state_; }

 private:
  std::shared_ptr<const EngineState> state_;
};

class Builder {
 public:
  explicit Builder(BuilderConfig config = {});
  Result<Engine> build_from_file(const std::string& onnx_path) const;
  // `name` is used in messages.
  Result<Engine> build_from_bytes(const std::string& onnx_bytes,
                                  const std::string& name = "<memory>") const;

 private:
  Result<Engine> build_unguarded(const std::string& onnx_bytes, const std::string& name) const;
  BuilderConfig config_;
};

struct ContextState;

class ExecutionContext {
 public:
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  // Runs the engine. Every engine input must be given, with its dtype and a shape that fits the
  // engine (symbolic dims consistent, inside the profile). Outputs already present in `outputs`
  // with the right dtype and shape are written in place (no allocation); the others are
  // allocated. After the first call at a shape, with outputs bound, the runtime allocates
  // nothing: every intermediate lives in the context's planned arena (kiln_alloc_test proves it).
  // Reference-backend kernels may still use scratch memory of their own (broadcast index tables,
  // sort buffers); kiln's own cpu kernels do not, but oneDNN's execute call (cpu Conv, MatMul,
  // Gemm, MaxPool layers) builds its argument map on the heap on every call.
  //
  // Engines with device layers: each context owns one stream, a host arena in page-locked
  // (pinned) memory and a device arena. Graph inputs that a kiln.CopyToDevice reads are first
  // copied (memcpy) into pinned staging in the host arena, outputs computed on the device land in
  // pinned staging and are copied into `outputs` after the stream is synchronized, so every
  // host<->device copy is asynchronous and has an address fixed for the plan (what a CUDA graph
  // needs). Contexts of one engine may run at once on different threads: they share nothing
  // mutable.
  Status run(const NamedTensors& inputs, NamedTensors* outputs);

  // Runs the engine on inputs already in device memory (TensorRT's enqueue with device
  // bindings). Engines with device layers only; any other is refused with a sentence. Inputs are
  // checked as run() checks them (every input given, dtype, shape, profile) and must not be host
  // memory. A graph input that only device layers read is not copied at all: its
  // kiln.CopyToDevice is skipped and the layers read the caller's pointer (the input is never
  // written). An output given with `data` (and the engine's dtype and shape for these inputs) is
  // written in place by a device-to-device copy instead of its kiln.CopyToHost; an output given
  // without `data`, or not given, is set to point into memory the context owns, valid until the
  // context's next run or its destruction. Inputs that a host layer reads (a fallback) are
  // copied to pinned host memory first, and outputs a host layer computes are copied up.
  // The caller's input data must be complete when this is called, and the outputs are complete
  // when it returns (the context synchronizes its stream).
  Status run_on_device(const NamedDeviceTensors& inputs, NamedDeviceTensors* outputs);

  // CUDA graphs (`--cuda-graph`): capture the device work of a run once and replay it. Off by
  // default; refused with a sentence on an engine without device layers (or whose device cannot
  // capture). While on, at a new input shape the first run runs normally (the cuBLASLt/cuDNN
  // plans, workspaces and weight copies are made on it), the next run at that shape captures the
  // stream's work (cudaStreamBeginCapture in thread-local mode, cudaGraphInstantiate) and later
  // runs at that shape replay it (cudaGraphLaunch). The host layers of such a run (shape
  // arithmetic, fallbacks on graph inputs) run first, then the captured device work; a run in
  // which a host layer reads a value computed on the device (a fallback between device layers)
  // is not captured at all, and cuda_graph_note() says which layer. The captured graph holds
  // fixed addresses: host inputs and outputs go through the context's pinned staging (fixed for
  // the shape); with run_on_device the caller's device pointers are captured, so a run whose
  // device input or output addresses differ from the captured ones captures again (keep the
  // buffers to replay). A new input shape re-plans and re-captures (one plan, one graph per
  // context: the last shape's). A graph is replayed only on the thread that captured it (the
  // cuBLASLt/cuDNN workspaces it uses are per thread); on another thread that thread warms up
  // and captures anew. Per-layer profiling and CUDA graphs are exclusive: set_cuda_graph(true)
  // is refused while profiling is on, and runs are not captured when profiling is turned on
  // later.
  Status set_cuda_graph(bool on);
  bool cuda_graph() const;
  // Why runs at the current shape are not replayed from a CUDA graph ("layer 'x' (Sin) runs on
  // the host and reads 'y', which is computed on the device"); empty when they are or will be
  // (graphs off, or not yet planned).
  std::string cuda_graph_note() const;
  // Runs since set_cuda_graph: that ran their device work directly (the warm-up run at each
  // shape, runs that cannot be captured), that captured a graph (and launched it), that replayed
  // one.
  struct CudaGraphCounts {
    int64_t uncaptured = 0;
    int64_t captured = 0;
    int64_t replayed = 0;
  };
  CudaGraphCounts cuda_graph_counts() const;

  // Per-layer timing (what trtexec's --dumpProfile is): while on, every run adds each layer's
  // time to a counter: a host layer's wall time, a device layer's time on the device (between
  // events queued around it, so the layers still run back to back). Turning it on or off clears
  // the counters. Off by default: timing every layer costs a little.
  void set_profiling(bool on);
  // One entry per layer, in the order of EngineInfo::layers: runs counted and total milliseconds.
  // Layers skipped because their outputs were precomputed at planning count no runs.
  struct LayerTime {
    int64_t runs = 0;
    double total_ms = 0;
  };
  std::vector<LayerTime> layer_times() const;

  explicit ExecutionContext(std::unique_ptr<ContextState> state);

 private:
  Status run_unguarded(const NamedTensors& inputs, NamedTensors* outputs);
  Status run_on_device_unguarded(const NamedDeviceTensors& inputs, NamedDeviceTensors* outputs);
  std::unique_ptr<ContextState> state_;
};

// Threads each layer may use, for runs started from the calling thread (kiln's cpu kernels and
// oneDNN share one OpenMP pool; the setting is per calling thread, as OpenMP's is). n >= 1, or 0
// for all cores (the default). The reference backend runs single-threaded regardless.
void set_intra_op_threads(int n);
int intra_op_threads();

// Names of the backends compiled in, and whether each can run here (the reason if not).
struct BackendAvailability {
  std::string name;
  bool available = false;
  std::string reason;
};
std::vector<BackendAvailability> available_backends();

}  // namespace kiln
