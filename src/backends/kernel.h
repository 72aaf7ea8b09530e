// The contract between the runtime and a backend's kernels.
//
// A Kernel is created once per engine node (when the engine is loaded) and is immutable: run()
// may be called from many ExecutionContexts at once. Per-run state lives in the KernelContext.
// Kernels obtain output buffers from the context (allocate_output): the runtime hands out
// slices of the context's planned arena, so running allocates nothing when shapes are planned.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

class KernelContext {
 public:
  virtual ~KernelContext() = default;

  virtual const Node& node() const = 0;
  virtual size_t num_inputs() const = 0;
  // nullptr for an omitted optional input.
  virtual const Tensor* input(size_t i) const = 0;
  virtual size_t num_outputs() const = 0;
  // The buffer for output i, of this dtype and shape. Its contents are unspecified for kernels
  // of the optimized backends (they must write every element); reference kernels get it zeroed.
  virtual Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) = 0;
  // The stream of the context's device (a cudaStream_t for the cuda backend) that kernels of a
  // device backend queue their work on; nullptr for host backends.
  virtual void* stream() const { return nullptr; }
  // Runs a subgraph (If/Loop/Scan bodies) with these inputs bound to its graph inputs; its outer
  // references resolve against the running graph's values.
  virtual Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) = 0;

  const Attributes& attrs() const { return node().attrs; }
  bool has_input(size_t i) const { return input(i) != nullptr; }
  // "node 'x' (Op): msg" as an invalid-argument error.
  Status error(const std::string& msg) const;
  Status unsupported_error(const std::string& msg) const;
};

// A context that forwards to `base` except for the inputs replaced by tensors it owns and, when
// asked, output 0, which it allocates itself: how a kernel runs another kernel on changed operands
// (the reference on channels-first copies; on a copy of an input its output may overwrite).
class SubstituteContext final : public KernelContext {
 public:
  SubstituteContext(KernelContext& base, bool own_output0) : base_(base), own_output0_(own_output0) {}
  void replace_input(size_t i, Tensor t);
  // Output 0 as the inner kernel wrote it (own_output0 only).
  const Tensor& own_output() const { return output0_; }

  const Node& node() const override { return base_.node(); }
  size_t num_inputs() const override { return base_.num_inputs(); }
  const Tensor* input(size_t i) const override;
  size_t num_outputs() const override { return own_output0_ ? 1 : base_.num_outputs(); }
  Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) override;
  Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) override {
    return base_.run_subgraph(g, inputs);
  }
  void* stream() const override { return base_.stream(); }

 private:
  KernelContext& base_;
  bool own_output0_;
  std::vector<std::pair<size_t, Tensor>> replaced_;
  Tensor output0_;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(KernelContext& ctx) const = 0;
  // An input whose buffer output 0 may take over (the kernel reads each element of it only to
  // compute the same element of the output, as a residual add does); -1: none. The planner gives
  // them one buffer when nothing reads that input afterwards and the sizes match, so the kernel
  // then finds output 0 already holding the input's values.
  virtual int inplace_input() const { return -1; }
};

// A kernel that is one function (the reference backend's kernels are all like this).
using KernelFn = Status (*)(KernelContext&);

class FunctionKernel final : public Kernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  Status run(KernelContext& ctx) const override { return fn_(ctx); }

 private:
  KernelFn fn_;
};

// Concrete shapes of a graph's values at the shapes an engine is optimized for (a profile's
// opt shapes; a dim no profile names counts as 1): what build-time packing plans for.
using BuildShapes = std::unordered_map<const Value*, Dims>;

// The entries of `profiles` (one BuildShapes per shape profile, first profile first) that give
// `n`'s inputs shapes no earlier entry gave them, in order: the profiles whose opt shapes a pack
// hook that tunes per problem plans for (the first is always kept). Never empty when `profiles`
// is not.
std::vector<const BuildShapes*> profiles_with_distinct_inputs(const Node& n, const std::vector<BuildShapes>& profiles);

class TimingCache;  // backends/timing_cache.h
class Progress;     // core/progress.h

// What the builder gives build-time packing besides the shapes: whether and how to tune (time
// candidate implementations on the device and keep the fastest), and the tally of what was
// tuned, for the build's summary line. Pack hooks that do not tune ignore it.
struct BuildContext {
  bool tune = true;                     // BuilderConfig::tune_kernels
  TimingCache* timing_cache = nullptr;  // consulted before timing, given each choice; may be null
  Progress* progress = nullptr;         // the build's progress line; may be null
  size_t layer = 0, layers = 0;         // the node being packed: 1-based position, and the count

  // The pack hooks' tally. A layer is tuned once per distinct problem (its shapes at each
  // profile's opt shapes).
  size_t tuned_layers = 0;     // layers that got at least one tuned choice (timed or from the cache)
  size_t tuned_problems = 0;   // choices made, over all layers
  size_t cached_problems = 0;  // of these, replayed from the timing cache without timing
  double tuning_seconds = 0;

  // Shows "tuning layer i/N (name)" on the progress line, at once (tuning a layer takes long);
  // with several problems for the layer, which one ("tuning layer i/N (name), shape 2/3").
  void report_tuning(const Node& n, size_t problem = 0, size_t problems = 1);
  // The build's one line about tuning: "tuned 2 layers (4 problems) in 3.1 s (1 from the timing
  // cache)"; the problems from the cache are counted among the problems.
  std::string summary() const;
};

// Node::backend_data's string that says what build-time tuning chose, in words ("cuDNN engine 7
// (tuned 0.031 ms)"): `kiln inspect` shows it (LayerInfo::tuning).
// A layer tuned for several problems (one per distinct profile shape) says each, joined by
// kTunedChoiceSeparator.
inline constexpr const char* kTuningChoiceKey = "tuning";
inline constexpr const char* kTunedChoiceSeparator = "; ";

// One row of a backend's kernel table.
struct KernelEntry {
  std::string domain;  // "" for ai.onnx
  std::string op_type;
  std::string name;  // shown by `kiln inspect`
  // The backend whose kernel this is, when not the table's own (a cpu table's reference
  // fallbacks say "reference"); the builder records it in Node::backend. Empty: the table's.
  std::string backend;
  // Can this kernel run this node (dtypes, attributes)? Empty: yes.
  std::function<bool(const Node&)> supports;
  std::function<Result<std::unique_ptr<Kernel>>(const Node&)> create;
  // Would this kernel compute the node in `precision` ("bf16", ...) rather than the model's own?
  // The builder asks when the user requests a lower precision; empty: never.
  std::function<bool(const Node&, const std::string& precision)> computes_in;
  // Build time, after the node's precision is chosen: what the kernel derives once from the
  // node's constants for the build shapes (packed weights), kept as Node::backend_data in the
  // engine; tuning kernels also time their candidates here and keep the choice (BuildContext).
  // `profiles` holds the build shapes of every shape profile, first profile first (never empty):
  // shape-independent work (weights repacked into a layout) plans for the first only; tuning
  // kernels make one choice per distinct problem the profiles give (profiles_with_distinct_inputs).
  // Empty: nothing to derive.
  std::function<Result<Attributes>(const Node&, const std::vector<BuildShapes>& profiles, BuildContext&)> pack;
  // Device backends: the inputs this kernel reads in host memory although it runs on the device
  // (shapes, indices it plans with); every other input is in device memory.
  std::vector<size_t> host_inputs;
  // Device backends: the outputs this kernel writes in host memory (kiln.CopyToHost's).
  std::vector<size_t> host_outputs;
};

class KernelTable {
 public:
  void add(KernelEntry e);
  // Convenience for function kernels: add("Relu", run_relu).
  void add(const std::string& op_type, KernelFn fn, const std::string& domain = "");
  // The first entry that supports `n`; with `fallbacks_only`, the first of the entries that name
  // another backend (a device backend's host fallbacks, for nodes whose values stay in host memory).
  const KernelEntry* find(const Node& n, bool fallbacks_only = false) const;
  const std::vector<KernelEntry>& entries() const { return entries_; }

 private:
  std::vector<KernelEntry> entries_;
};

}  // namespace kiln
