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
  std::vector<InputRange> profile;  // optional: ranges for inputs with symbolic dims
  bool show_progress = true;        // a progress line on a terminal (never when not a tty)
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
  // Arena bytes for one run at the profile's opt shapes (or the fixed shapes); -1 if the shapes
  // are data-dependent and cannot be planned ahead.
  int64_t activation_bytes = -1;
};

class ExecutionContext;
struct EngineState;

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
  Status run(const NamedTensors& inputs, NamedTensors* outputs);

  // Per-layer timing (what trtexec's --dumpProfile is): while on, every run adds each layer's
  // wall time to a counter. Turning it on or off clears the counters. Off by default: reading the
  // clock around every layer costs a little.
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
