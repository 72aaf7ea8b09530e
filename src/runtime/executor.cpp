// ExecutionContext: validates inputs, plans memory once per input-shape signature, runs kernels.
//
// Planning re-runs type/shape inference with the call's concrete shapes. Values that inference can
// compute outright (shape arithmetic: Shape -> Gather -> Concat ...) are computed then and their
// nodes skipped at run time; values of known size get arena slots from the liveness plan; only
// values whose size depends on data (NonZero, ...) are allocated during the run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_set>

#include "backends/reference/reference_backend.h"
#include "core/guard.h"
#include "fmt/format.h"
#include "ir/inference.h"
#include "ir/ops/fused/fused_util.h"
#include "runtime/engine_state.h"
#include "runtime/memory_plan.h"

namespace kiln {

namespace {

// kDeviceDynamic: a device value whose size depends on the data (a Range's length, sizes a host
// fallback computes): allocated from the device when written, freed with the run's other dynamic
// values; such a plan is never captured in a CUDA graph (its addresses change run to run).
enum class Slot : uint8_t { kUnset, kInput, kConstant, kPrecomputed, kArena, kOutput, kDynamic, kDeviceDynamic };

// Runs a graph with heap-allocated values: subgraph bodies and one-off evaluation.
class HeapFrame;

using OuterLookup = std::function<const Tensor*(const std::string&)>;

class HeapKernelContext final : public KernelContext {
 public:
  HeapKernelContext(const EngineState* engine, const Node& n, std::function<const Tensor*(const Value*)> get,
                    std::vector<Tensor>& outs, OuterLookup outer)
      : engine_(engine), node_(n), get_(std::move(get)), outs_(outs), outer_(std::move(outer)) {
    outs_.assign(n.num_outputs(), Tensor());
  }
  const Node& node() const override { return node_; }
  size_t num_inputs() const override { return node_.num_inputs(); }
  const Tensor* input(size_t i) const override {
    const Value* v = node_.input(i);
    return v ? get_(v) : nullptr;
  }
  size_t num_outputs() const override { return node_.num_outputs(); }
  Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) override {
    if (i >= outs_.size()) return error(fmt::format("output {} does not exist", i));
    if (max_output_elements_ >= 0 && element_count(dims) > max_output_elements_) {
      output_too_large_ = true;
      return out_of_memory(fmt::format("output {} ({}) is too large to evaluate ahead of a run", i, dims_to_string(dims)));
    }
    KILN_ASSIGN_OR_RETURN(outs_[i], Tensor::allocate(dtype, dims));
    return &outs_[i];
  }
  Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) override;

  // For one-off evaluation (folding, shape arithmetic): refuse outputs above `n` elements.
  void limit_outputs(int64_t n) { max_output_elements_ = n; }
  bool output_too_large() const { return output_too_large_; }

 private:
  int64_t max_output_elements_ = -1;  // -1: no limit
  bool output_too_large_ = false;
  const EngineState* engine_;
  const Node& node_;
  std::function<const Tensor*(const Value*)> get_;
  std::vector<Tensor>& outs_;
  OuterLookup outer_;
};

Result<const Kernel*> kernel_for(const EngineState* engine, const Node& n, std::unique_ptr<Kernel>& owned) {
  if (engine) {
    auto it = engine->kernels.find(&n);
    if (it != engine->kernels.end()) return it->second.get();
  }
  const KernelEntry* e = reference_backend().kernels().find(n);
  if (!e) return unsupported(fmt::format("{}: no reference kernel", n.describe()));
  KILN_ASSIGN_OR_RETURN(owned, e->create(n));
  return owned.get();
}

Result<std::vector<Tensor>> run_graph_on_heap(const EngineState* engine, const Graph& g,
                                              const std::vector<Tensor>& inputs, const OuterLookup& outer) {
  if (inputs.size() != g.inputs().size()) {
    return invalid_argument(fmt::format("subgraph '{}' takes {} inputs, given {}", g.name, g.inputs().size(), inputs.size()));
  }
  std::unordered_map<const Value*, Tensor> frame;
  for (size_t i = 0; i < inputs.size(); ++i) frame[g.inputs()[i]] = inputs[i];
  for (const auto& v : g.values()) {
    if (v->constant) frame[v.get()] = *v->constant;
  }
  for (const Value* r : g.outer_refs()) {
    const Tensor* t = outer ? outer(r->name()) : nullptr;
    if (!t) return internal_error(fmt::format("subgraph '{}': outer value '{}' is not available", g.name, r->name()));
    frame[r] = *t;
  }
  auto get = [&](const Value* v) -> const Tensor* {
    auto it = frame.find(v);
    return it == frame.end() ? nullptr : &it->second;
  };
  OuterLookup inner_lookup = [&](const std::string& name) -> const Tensor* {
    if (const Value* v = g.find_value(name)) {
      if (const Tensor* t = get(v)) return t;
    }
    return outer ? outer(name) : nullptr;
  };
  for (const auto& np : g.nodes()) {
    const Node& n = *np;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      if (n.input(i) && !get(n.input(i))) {
        return internal_error(fmt::format("{}: input '{}' has no value", n.describe(), n.input(i)->name()));
      }
    }
    std::unique_ptr<Kernel> owned;
    KILN_ASSIGN_OR_RETURN(const Kernel* k, kernel_for(engine, n, owned));
    std::vector<Tensor> outs;
    HeapKernelContext ctx(engine, n, get, outs, inner_lookup);
    KILN_RETURN_IF_ERROR(guard(n.describe(), [&] { return k->run(ctx); }));
    for (size_t i = 0; i < n.num_outputs(); ++i) {
      if (!n.output(i)) continue;
      if (!outs[i].defined()) return internal_error(fmt::format("{}: output {} was not produced", n.describe(), i));
      frame[n.output(i)] = std::move(outs[i]);
    }
  }
  std::vector<Tensor> result;
  for (const Value* o : g.outputs()) {
    const Tensor* t = get(o);
    if (!t) return internal_error(fmt::format("subgraph '{}': output '{}' has no value", g.name, o->name()));
    result.push_back(*t);
  }
  return result;
}

Result<std::vector<Tensor>> HeapKernelContext::run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) {
  return run_graph_on_heap(engine_, g, inputs, outer_);
}

bool has_subgraph(const Node& n) {
  for (const auto& [name, a] : n.attrs.all()) {
    if (a.g || !a.graphs.empty()) return true;
  }
  return false;
}

}  // namespace

// The largest output evaluate_node computes: what constant folding keeps (fold_constants.cpp's
// kMaxFoldedElements), so no folding result changes.
constexpr int64_t kMaxEvaluatedElements = int64_t{1} << 22;

Result<std::optional<std::vector<Tensor>>> evaluate_node(const Node& n, const std::vector<const Tensor*>& inputs) {
  if (has_subgraph(n) || (n.schema && !n.schema->deterministic)) return std::optional<std::vector<Tensor>>();
  std::unique_ptr<Kernel> owned;
  auto k = kernel_for(nullptr, n, owned);
  if (!k.ok()) return std::optional<std::vector<Tensor>>();  // nothing to fold with
  std::vector<Tensor> outs;
  auto get = [&](const Value* v) -> const Tensor* {
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      if (n.input(i) == v) return inputs[i];
    }
    return nullptr;
  };
  HeapKernelContext ctx(nullptr, n, get, outs, nullptr);
  // Callers bound the size of a node's inputs, but outputs can be far larger (ConstantOfShape,
  // Expand, Tile, Range): a tiny damaged model could otherwise make the build fill gigabytes
  // (found by fuzz_onnx_import). Outputs larger than anything constant folding keeps are not
  // evaluated ahead of time; the runtime computes them if it ever runs.
  ctx.limit_outputs(kMaxEvaluatedElements);
  Status s = guard(n.describe(), [&] { return (*k)->run(ctx); });
  if (ctx.output_too_large()) return std::optional<std::vector<Tensor>>();
  KILN_RETURN_IF_ERROR(s);
  return std::optional<std::vector<Tensor>>(std::move(outs));
}

// ---------------------------------------------------------------------------------------------

struct ContextState {
  std::shared_ptr<const EngineState> engine;

  // The plan for the last input-shape signature.
  bool planned = false;
  std::vector<Dims> signature;
  std::vector<Slot> slots;              // per value index
  std::vector<Tensor> planned_tensors;  // per value index: arena views and precomputed values
  std::vector<bool> skip;               // per node: every output precomputed
  size_t arena_bytes = 0;

  std::shared_ptr<void> arena;
  size_t arena_capacity = 0;

  // Device backends: which steps run on the device, the device arena, and the context's stream
  // (made on the first plan, destroyed with the context).
  std::vector<bool> step_on_device;
  size_t device_arena_bytes = 0;
  std::shared_ptr<void> device_arena;
  size_t device_arena_capacity = 0;
  std::shared_ptr<void> stream;

  // Device backends, per plan (engines without a device leave these empty). Each graph input
  // that a layer reads gets a slot of the pinned host arena (planned_tensors[its index]): its
  // staging, which run() fills when a kiln.CopyToDevice reads the input (so the copy is from
  // pinned memory at an address fixed for the plan) and run_on_device fills when a host layer
  // reads it.
  struct InputUse {
    size_t value = 0;
    bool staged = false;     // has a pinned staging slot
    bool to_device = false;  // a kiln.CopyToDevice reads it
    bool on_host = false;    // something else reads it in host memory (a host layer, a subgraph, an output)
  };
  std::vector<InputUse> input_uses;  // per graph input
  // What a step is to the device paths: a kiln.CopyToDevice of graph input `step_io[step]`, a
  // kiln.CopyToHost writing graph output `step_io[step]` that nothing else reads, or neither.
  enum class StepRole : uint8_t { kPlain, kInputUpload, kOutputDownload };
  std::vector<StepRole> step_role;
  std::vector<size_t> step_io;
  // Per kInputUpload step: its output's buffer is shared with a later layer's output (in-place
  // planning), so run_on_device copies the caller's input into it rather than reading the
  // caller's pointer (which that layer would overwrite).
  std::vector<bool> upload_shared;
  std::vector<size_t> output_download;  // per graph output: its kOutputDownload step, or SIZE_MAX
  // Whether a run's device work can be captured into one CUDA graph, and if not why not.
  bool capturable = true;
  std::string capture_note;

  // CUDA graphs (set_cuda_graph). One captured graph, of the current plan, made on the thread
  // `graph_thread` for the caller's device addresses `graph_key` (run_on_device; empty for run()).
  bool cuda_graph = false;
  std::shared_ptr<void> graph;
  uint64_t graph_thread = 0;
  bool graph_device_io = false;
  std::vector<const void*> graph_key;
  uint64_t warm_thread = 0;  // the thread whose kernels last ran this plan's device work directly
  std::string capture_failure;  // why capturing this plan failed (then it runs uncaptured)
  ExecutionContext::CudaGraphCounts graph_counts;

  // run_on_device, per run: the caller's inputs as views (per graph input), the caller's output
  // buffers (per graph output; nullptr: none given), outputs host layers compute, and device
  // buffers the context owns for outputs not given a buffer (per graph output).
  bool device_io = false;
  std::vector<Tensor> bound_inputs;
  std::vector<void*> bound_outputs;
  NamedTensors host_outputs;
  std::vector<const void*> output_device_data;  // per graph output: where its device value lies
  std::vector<std::shared_ptr<void>> owned_outputs;
  std::vector<size_t> owned_output_bytes;

  // Per run.
  std::vector<const Tensor*> table;  // per value index
  std::deque<Tensor> dynamic;        // data-dependent values and omitted outputs of this run

  // Per-layer timing, when on (set_profiling): indexed like the graph's nodes.
  bool profiling = false;
  std::vector<ExecutionContext::LayerTime> layer_times;
  // A device layer's time is the device time between two events queued around it (per step:
  // [2 * step] before, [2 * step + 1] after), read once the run has waited for its stream, so
  // layers are timed without waiting between them. Empty when the device has no events: then
  // the stream is waited for before and after each device layer.
  std::vector<std::shared_ptr<void>> profile_events;
  std::vector<size_t> timed_steps;  // the device steps marked in this run
};

namespace {

size_t index_of(const EngineState& e, const Value* v) { return e.value_index.at(v); }

class MainKernelContext final : public KernelContext {
 public:
  MainKernelContext(ContextState& cs, const Node& n, NamedTensors* outputs, bool on_device)
      : cs_(cs), node_(n), outputs_(outputs), on_device_(on_device) {}
  const Node& node() const override { return node_; }
  size_t num_inputs() const override { return node_.num_inputs(); }
  const Tensor* input(size_t i) const override {
    const Value* v = node_.input(i);
    if (!v) return nullptr;
    if (on_device_ && v->constant && !reads_on_host(i)) return &cs_.engine->device_constants.at(v);
    return cs_.table[index_of(*cs_.engine, v)];
  }
  void* stream() const override { return on_device_ ? cs_.stream.get() : nullptr; }
  size_t num_outputs() const override { return node_.num_outputs(); }

  Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) override {
    const Value* v = node_.output(i);
    if (!v) {  // an omitted optional output: the kernel may still write it
      KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
      cs_.dynamic.push_back(std::move(t));
      return &cs_.dynamic.back();
    }
    const size_t idx = index_of(*cs_.engine, v);
    if (on_device_ && !writes_on_host(i)) {
      // Device outputs live in the planned device arena, or, sized by the data, in device memory
      // of their own for this run: never host memory.
      if (cs_.slots[idx] == Slot::kDeviceDynamic) {
        const Device* d = cs_.engine->device;
        const size_t bytes = static_cast<size_t>(element_count(dims)) * dtype_size(dtype);
        KILN_ASSIGN_OR_RETURN(void* p, d->allocate(std::max<size_t>(bytes, 1)));
        std::shared_ptr<void> owner(p, [d](void* q) { d->free(q); });
        cs_.dynamic.push_back(Tensor::wrap(dtype, dims, p, owner));
        cs_.table[idx] = &cs_.dynamic.back();
        return &cs_.dynamic.back();
      }
      Tensor& t = cs_.planned_tensors[idx];
      if (cs_.slots[idx] == Slot::kArena && t.dtype() == dtype && t.shape() == dims) {
        cs_.table[idx] = &t;
        return &t;
      }
      return internal_error(fmt::format("{}: output {} is {}{} on the device, but planning sized it {}{}", node_.describe(), i,
                                        dtype_name(dtype), dims_to_string(dims), dtype_name(t.dtype()), dims_to_string(t.shape())));
    }
    switch (cs_.slots[idx]) {
      case Slot::kArena: {
        Tensor& t = cs_.planned_tensors[idx];
        if (t.dtype() == dtype && t.shape() == dims) {
          // Reference kernels may count on a zeroed output (they are written for clarity, some
          // accumulate into it); the optimized backends' kernels write every element, and
          // clearing a slice they overwrite anyway is a whole extra pass over memory per layer.
          const std::string& backend = node_.backend.empty() ? cs_.engine->meta.backend : node_.backend;
          if (backend == "reference") std::memset(t.data(), 0, t.nbytes());
          cs_.table[idx] = &t;
          return &t;
        }
        break;  // inference and kernel disagree: fall back to the heap, results stay right
      }
      case Slot::kOutput: {
        auto it = outputs_->find(v->name());
        if (it != outputs_->end() && it->second.dtype() == dtype && it->second.shape() == dims && it->second.data()) {
          cs_.table[idx] = &it->second;
          return &it->second;
        }
        KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
        Tensor& slot = (*outputs_)[v->name()];
        slot = std::move(t);
        cs_.table[idx] = &slot;
        return &slot;
      }
      default:
        break;
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
    cs_.dynamic.push_back(std::move(t));
    cs_.table[idx] = &cs_.dynamic.back();
    return &cs_.dynamic.back();
  }

  Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) override {
    const EngineState& e = *cs_.engine;
    OuterLookup lookup = [&](const std::string& name) -> const Tensor* {
      const Value* v = e.graph->find_value(name);
      return v ? cs_.table[index_of(e, v)] : nullptr;
    };
    return run_graph_on_heap(&e, g, inputs, lookup);
  }

 private:
  bool reads_on_host(size_t i) const { return listed(cs_.engine->host_inputs, i); }
  bool writes_on_host(size_t i) const { return listed(cs_.engine->host_outputs, i); }
  bool listed(const std::unordered_map<const Node*, std::vector<size_t>>& m, size_t i) const {
    auto it = m.find(&node_);
    return it != m.end() && std::find(it->second.begin(), it->second.end(), i) != it->second.end();
  }

  ContextState& cs_;
  const Node& node_;
  NamedTensors* outputs_;
  bool on_device_;
};

// Elements up to which planning computes a value ahead of the run (shape arithmetic is tiny).
constexpr int64_t kPlanFoldLimit = 1 << 16;

// The first input of `profile` whose shape falls outside its range, and the dim; nullptr when the
// shapes fit (inputs not given are left to the other checks).
const InputRange* outside_profile(const std::vector<InputRange>& profile, const NamedTensors& inputs, size_t* dim) {
  for (const InputRange& r : profile) {
    auto it = inputs.find(r.input);
    if (it == inputs.end()) continue;
    const Dims& d = it->second.shape();
    for (size_t k = 0; k < d.size() && k < r.min.size() && k < r.max.size(); ++k) {
      if (d[k] < r.min[k] || d[k] > r.max[k]) {
        *dim = k;
        return &r;
      }
    }
  }
  return nullptr;
}

// The shapes must fit at least one profile. Allocates only to say why they fit none.
Status check_profiles(const std::vector<std::vector<InputRange>>& profiles, const NamedTensors& inputs) {
  size_t dim = 0;
  if (profiles.empty()) return ok_status();
  for (const auto& profile : profiles) {
    if (!outside_profile(profile, inputs, &dim)) return ok_status();
  }
  auto shape_of = [&inputs](const std::string& name) { return dims_to_string(inputs.at(name).shape()); };
  if (profiles.size() == 1) {
    const InputRange* r = outside_profile(profiles[0], inputs, &dim);
    return invalid_argument(fmt::format("input '{}' has shape {}, outside the engine's profile {} .. {} (dim {})", r->input,
                                        shape_of(r->input), dims_to_string(r->min), dims_to_string(r->max), dim));
  }
  // Several profiles: when one input is outside every profile, name it and its range in each;
  // otherwise each input fits some profile but no profile fits them all: say what each misses.
  const InputRange* first = outside_profile(profiles[0], inputs, &dim);
  bool same_input = true;
  std::vector<std::string> ranges;
  for (size_t p = 0; p < profiles.size(); ++p) {
    const InputRange* r = outside_profile(profiles[p], inputs, &dim);
    same_input &= r->input == first->input;
    ranges.push_back(fmt::format("profile {}: {} .. {}", p, dims_to_string(r->min), dims_to_string(r->max)));
  }
  if (same_input) {
    return invalid_argument(fmt::format("input '{}' has shape {}, outside every profile of the engine ({})", first->input,
                                        shape_of(first->input), fmt::join(ranges, "; ")));
  }
  std::vector<std::string> misses;
  for (size_t p = 0; p < profiles.size(); ++p) {
    const InputRange* r = outside_profile(profiles[p], inputs, &dim);
    misses.push_back(fmt::format("profile {}: input '{}' has shape {}, outside {} .. {}", p, r->input, shape_of(r->input),
                                 dims_to_string(r->min), dims_to_string(r->max)));
  }
  return invalid_argument(fmt::format("the inputs' shapes fit no single profile of the engine ({})", fmt::join(misses, "; ")));
}

Status validate_inputs(const EngineState& e, const NamedTensors& inputs) {
  // The first dim (input, dim) that bound each symbol is found by a scan over the inputs checked
  // so far rather than kept in a map: run() must not allocate once planned.
  auto first_binding = [&](const std::string& sym, size_t upto_input, size_t upto_dim) -> std::pair<int64_t, bool> {
    for (size_t j = 0; j <= upto_input; ++j) {
      const IoInfo& prev = e.inputs[j];
      const size_t end = j == upto_input ? upto_dim : prev.dims.size();
      for (size_t k = 0; k < end; ++k) {
        if (prev.dims[k] < 0 && prev.symbols[k] == sym) return {inputs.at(prev.name).dim(static_cast<int64_t>(k)), true};
      }
    }
    return {0, false};
  };
  for (size_t ii = 0; ii < e.inputs.size(); ++ii) {
    const IoInfo& io = e.inputs[ii];
    auto it = inputs.find(io.name);
    if (it == inputs.end()) {
      return invalid_argument(fmt::format("missing input '{}' ({}[{}])", io.name, dtype_name(io.dtype), io.shape_string()));
    }
    const Tensor& t = it->second;
    if (t.dtype() != io.dtype) {
      return invalid_argument(fmt::format("input '{}' has dtype {}, expected {}", io.name, dtype_name(t.dtype()), dtype_name(io.dtype)));
    }
    if (t.rank() != static_cast<int64_t>(io.dims.size())) {
      return invalid_argument(fmt::format("input '{}' has shape {} (rank {}), expected [{}] (rank {})", io.name,
                                          dims_to_string(t.shape()), t.rank(), io.shape_string(), io.dims.size()));
    }
    if (t.numel() > 0 && !t.data()) return invalid_argument(fmt::format("input '{}' has no data", io.name));
    for (size_t d = 0; d < io.dims.size(); ++d) {
      if (io.dims[d] >= 0 && t.dim(static_cast<int64_t>(d)) != io.dims[d]) {
        return invalid_argument(fmt::format("input '{}' has shape {}, expected [{}]: dim {} is {}, expected {}", io.name,
                                            dims_to_string(t.shape()), io.shape_string(), d, t.dim(static_cast<int64_t>(d)), io.dims[d]));
      }
      if (io.dims[d] < 0 && !io.symbols[d].empty()) {
        const auto [bound, found] = first_binding(io.symbols[d], ii, d);
        if (found && bound != t.dim(static_cast<int64_t>(d))) {
          return invalid_argument(fmt::format("input '{}' dim {} ('{}') is {}, but another input set '{}' to {}", io.name, d,
                                              io.symbols[d], t.dim(static_cast<int64_t>(d)), io.symbols[d], bound));
        }
      }
    }
  }
  KILN_RETURN_IF_ERROR(check_profiles(e.meta.profiles, inputs));
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const IoInfo& io : e.inputs) known |= io.name == name;
    if (!known) {
      std::string names;
      for (const IoInfo& io : e.inputs) names += (names.empty() ? "" : ", ") + io.name;
      return invalid_argument(fmt::format("unknown input '{}' (the engine's inputs: {})", name, names));
    }
  }
  return ok_status();
}

// The request whose buffer output `o` of `n` may take over: its kernel's in-place input, when that
// is an arena value of the same size that nothing reads after this node and that the node reads
// only there. SIZE_MAX: none.
size_t inplace_request(const EngineState& e, const Node& n, const Value* o, size_t bytes, size_t step, const std::vector<size_t>& last_use,
                       const std::vector<size_t>& request_of, const std::vector<BufferRequest>& requests) {
  if (n.num_outputs() == 0 || n.output(0) != o) return SIZE_MAX;
  auto k = e.kernels.find(&n);
  if (k == e.kernels.end()) return SIZE_MAX;
  const int in = k->second->inplace_input();
  if (in < 0 || static_cast<size_t>(in) >= n.num_inputs() || !n.input(in)) return SIZE_MAX;
  const Value* v = n.input(in);
  for (size_t i = 0; i < n.num_inputs(); ++i) {
    if (i != static_cast<size_t>(in) && n.input(i) == v) return SIZE_MAX;
  }
  const size_t iv = index_of(e, v);
  const size_t r = request_of[iv];
  if (r == SIZE_MAX || last_use[iv] != step || requests[r].bytes != bytes || v->is_graph_output()) return SIZE_MAX;
  return r;
}

bool is_copy_to_device(const Node& n) { return n.domain == kKilnDomain && n.op_type == "CopyToDevice"; }
bool is_copy_to_host(const Node& n) { return n.domain == kKilnDomain && n.op_type == "CopyToHost"; }

// The values of `g` that a node's subgraph bodies read, at any depth (the importer passes a
// name through every scope in between; a pass that adds a deeper read need not).
std::vector<const Value*> outer_reads(const Graph& g, const Node& n) {
  std::vector<const Value*> out;
  for (const std::string& name : Graph::names_read_by_subgraphs_of(n)) {
    if (const Value* v = g.find_value(name)) out.push_back(v);
  }
  return out;
}

struct PinnedValue {
  size_t value;
  Tensor heap;  // the value as planning computed it
};

// Engines with a device: where graph inputs and outputs are staged, which host values device
// copies read (they live to the end of the run: a CUDA graph's run does the host layers first,
// so the liveness plan must not let a later host layer overwrite what a device copy has yet to
// read), and whether the run's device work can be captured into one graph.
Status plan_device_io(ContextState& cs, const ValueStates& states, const std::vector<size_t>& last_use, std::vector<size_t>& request_of,
                      std::vector<BufferRequest>& requests, std::vector<bool>& request_on_device, std::vector<size_t>& request_value,
                      std::vector<PinnedValue>& pinned) {
  const EngineState& e = *cs.engine;
  const Graph& g = *e.graph;
  const size_t end = g.num_nodes();
  auto add_host_request = [&](size_t idx, DataType dtype, const Dims& dims, size_t first, size_t last) {
    cs.planned_tensors[idx] = Tensor::wrap(dtype, dims, nullptr);
    request_of[idx] = requests.size();
    requests.push_back({static_cast<size_t>(element_count(dims)) * dtype_size(dtype), first, last});
    request_on_device.push_back(false);
    request_value.push_back(idx);
  };
  auto live_to_end = [&](const Value* v) {
    const size_t r = request_of[index_of(e, v)];
    if (r != SIZE_MAX) requests[r].last_step = end;
  };
  auto note = [&](std::string why) {
    if (!cs.capturable) return;
    cs.capturable = false;
    cs.capture_note = std::move(why);
  };
  cs.capturable = true;
  cs.capture_note.clear();
  cs.step_role.assign(end, ContextState::StepRole::kPlain);
  cs.step_io.assign(end, SIZE_MAX);
  cs.upload_shared.assign(end, false);
  cs.output_download.assign(g.outputs().size(), SIZE_MAX);

  // Graph inputs: who reads them, and a pinned staging slot for those read at all.
  cs.input_uses.assign(g.inputs().size(), ContextState::InputUse{});
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value* x = g.inputs()[i];
    ContextState::InputUse& use = cs.input_uses[i];
    use.value = index_of(e, x);
    use.on_host = x->is_graph_output();
    for (size_t step = 0; step < end; ++step) {
      if (cs.skip[step]) continue;
      const Node& n = *g.nodes()[step];
      for (const Value* in : n.inputs()) {
        if (in != x) continue;
        if (cs.step_on_device[step] && is_copy_to_device(n)) {
          use.to_device = true;
          cs.step_role[step] = ContextState::StepRole::kInputUpload;
          cs.step_io[step] = i;
        } else {
          use.on_host = true;  // a host layer, or a device layer's host input (a shape)
        }
      }
      for (const Value* v : outer_reads(g, n)) use.on_host |= v == x;
    }
    const ValueState& st = states.at(x);
    if ((use.to_device || use.on_host) && dtype_is_supported(st.dtype) && st.shape && is_static(st.shape)) {
      use.staged = true;
      // To the end of the run: with a CUDA graph the host layers run before the device copy reads it.
      add_host_request(use.value, st.dtype, static_dims(*st.shape), 0, end);
    }
  }

  // Device layers' reads of host memory, and where the device work depends on the host's.
  std::vector<bool> device_dependent(e.value_index.size(), false);
  for (size_t step = 0; step < end; ++step) {
    if (cs.skip[step]) continue;
    const Node& n = *g.nodes()[step];
    const bool device_step = cs.step_on_device[step];
    bool reads_device = false;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      const Value* v = n.input(i);
      if (!v) continue;
      const size_t idx = index_of(e, v);
      reads_device |= device_dependent[idx];
      if (!device_step || v->constant) continue;
      const bool host_read = is_copy_to_device(n) || [&] {
        auto it = e.host_inputs.find(&n);
        return it != e.host_inputs.end() && std::find(it->second.begin(), it->second.end(), i) != it->second.end();
      }();
      if (!host_read || v->is_graph_input()) continue;
      if (cs.slots[idx] == Slot::kPrecomputed && is_copy_to_device(n)) {
        if (request_of[idx] != SIZE_MAX) continue;  // already pinned for another reader
        // Shape arithmetic's result copied up: into pinned memory, kept for the whole plan.
        const Tensor heap = cs.planned_tensors[idx];
        add_host_request(idx, heap.dtype(), heap.shape(), 0, end);
        pinned.push_back({idx, heap});
      } else if (cs.slots[idx] == Slot::kArena && is_copy_to_device(n)) {
        live_to_end(v);
      } else if (cs.slots[idx] == Slot::kPrecomputed || cs.slots[idx] == Slot::kConstant) {
        // A shape or axes the kernel reads on the host: fixed for the plan.
      } else if (is_copy_to_device(n)) {
        note(fmt::format("{} copies '{}' to the device, whose size depends on the data", n.describe(), v->name()));
      } else {
        note(fmt::format("{} reads '{}' in host memory, which the run computes", n.describe(), v->name()));
      }
    }
    for (const Value* v : outer_reads(g, n)) reads_device |= device_dependent[index_of(e, v)];
    if (!device_step && reads_device) {
      std::string what;
      for (const Value* v : n.inputs()) {
        if (v && device_dependent[index_of(e, v)]) {
          what = fmt::format(" '{}'", v->name());
          break;
        }
      }
      note(fmt::format("{} runs on the host and reads{}, which is computed on the device", n.describe(), what.empty() ? " a value" : what));
    }
    for (const Value* o : n.outputs()) {
      if (o) device_dependent[index_of(e, o)] = device_step || reads_device;
    }
    if (device_step && is_copy_to_host(n) && n.num_outputs() == 1 && n.output(0) && n.output(0)->is_graph_output() &&
        n.output(0)->uses().empty() && cs.slots[index_of(e, n.output(0))] == Slot::kArena) {
      const auto& outs = g.outputs();
      cs.step_role[step] = ContextState::StepRole::kOutputDownload;
      cs.step_io[step] = static_cast<size_t>(std::find(outs.begin(), outs.end(), n.output(0)) - outs.begin());
      cs.output_download[cs.step_io[step]] = step;
      // run_on_device hands out the device value itself: it must outlive the run.
      live_to_end(n.input(0));
    }
  }
  // kInputUpload steps whose output buffer a later layer takes over in place.
  for (size_t step = 0; step < end; ++step) {
    if (cs.step_role[step] != ContextState::StepRole::kInputUpload) continue;
    const size_t r = request_of[index_of(e, g.nodes()[step]->output(0))];
    if (r == SIZE_MAX) continue;
    for (size_t v = 0; v < request_of.size(); ++v) {
      if (request_of[v] == r && request_value[r] != v) cs.upload_shared[step] = true;
    }
  }
  return ok_status();
}

Status plan(ContextState& cs, const NamedTensors& inputs, bool allocate = true) {
  const EngineState& e = *cs.engine;
  const Graph& g = *e.graph;
  ValueStates states = initial_states(g);
  for (const Value* in : g.inputs()) {
    const Tensor& t = inputs.at(in->name());
    ValueState s;
    s.dtype = t.dtype();
    s.shape = sym_shape(t.shape());
    states[in] = std::move(s);
  }
  InferenceOptions opts;
  opts.evaluate = [](const Node& n, const std::vector<const Tensor*>& ins) -> Result<std::optional<std::vector<Tensor>>> {
    int64_t total = 0;
    for (const Tensor* t : ins) total += t ? t->numel() : 0;
    if (total > kPlanFoldLimit) return std::optional<std::vector<Tensor>>();
    return evaluate_node(n, ins);
  };
  KILN_RETURN_IF_ERROR(infer_graph(g, states, opts));

  const size_t nv = e.value_index.size();
  cs.slots.assign(nv, Slot::kUnset);
  cs.planned_tensors.assign(nv, Tensor());
  for (const auto& v : g.values()) {
    const size_t idx = index_of(e, v.get());
    if (v->is_graph_input()) cs.slots[idx] = Slot::kInput;
    else if (v->constant) cs.slots[idx] = Slot::kConstant;
  }
  cs.skip.assign(g.num_nodes(), false);
  cs.step_on_device.assign(g.num_nodes(), false);
  for (size_t step = 0; step < g.num_nodes(); ++step) cs.step_on_device[step] = e.on_device.count(g.nodes()[step].get()) > 0;
  std::vector<BufferRequest> requests;
  std::vector<bool> request_on_device;  // per request: in the device arena
  std::vector<size_t> request_value;
  std::vector<size_t> request_of(nv, SIZE_MAX);          // per value: its request
  std::vector<std::pair<size_t, size_t>> shared_buffers;  // (value, request) taking another's buffer
  std::vector<size_t> last_use(nv, 0);
  std::string device_dynamic;  // the first device value sized by the data (why this plan is not captured)
  // Uses, including reads from inside subgraph bodies (attributed to the owning node).
  for (size_t step = 0; step < g.num_nodes(); ++step) {
    const Node& n = *g.nodes()[step];
    for (const Value* in : n.inputs()) {
      if (in) last_use[index_of(e, in)] = step;
    }
    for (const Value* outer : outer_reads(g, n)) last_use[index_of(e, outer)] = step;
  }
  for (size_t step = 0; step < g.num_nodes(); ++step) {
    const Node& n = *g.nodes()[step];
    const bool device_step = cs.step_on_device[step];
    auto host_out = e.host_outputs.find(&n);
    bool all_pre = n.num_outputs() > 0;
    for (size_t k = 0; k < n.num_outputs(); ++k) {
      const Value* o = n.output(k);
      if (!o) continue;
      const size_t idx = index_of(e, o);
      // Where this output lives: device nodes write device memory unless the kernel says otherwise.
      const bool device_value = device_step && (host_out == e.host_outputs.end() ||
                                                std::find(host_out->second.begin(), host_out->second.end(), k) == host_out->second.end());
      const ValueState& s = states[o];
      // A device node always runs: values computed ahead of the run live in host memory.
      if (s.value && !o->is_graph_output() && !device_step) {
        cs.slots[idx] = Slot::kPrecomputed;
        cs.planned_tensors[idx] = *s.value;
        continue;
      }
      all_pre = false;
      const bool plannable = s.shape && is_static(s.shape) && dtype_is_supported(s.dtype);
      // A graph output a device layer writes in host memory (its kiln.CopyToHost) lands in pinned
      // staging that lives to the end of the run, copied into the caller's output after the
      // stream is synchronized: the copy is asynchronous and its address fixed for the plan.
      const bool staged_output = o->is_graph_output() && device_step && !device_value && plannable;
      if (o->is_graph_output() && !staged_output) {
        cs.slots[idx] = Slot::kOutput;
      } else if (plannable) {
        cs.slots[idx] = Slot::kArena;
        const Dims dims = static_dims(*s.shape);
        cs.planned_tensors[idx] = Tensor::wrap(s.dtype, dims, nullptr);
        const size_t bytes = static_cast<size_t>(element_count(dims)) * dtype_size(s.dtype);
        const size_t last = staged_output ? g.num_nodes() : std::max(step, last_use[idx]);
        if (auto shared = staged_output ? SIZE_MAX : inplace_request(e, n, o, bytes, step, last_use, request_of, requests);
            shared != SIZE_MAX && request_on_device[shared] == device_value) {
          requests[shared].last_step = std::max(requests[shared].last_step, last);
          request_of[idx] = shared;
          shared_buffers.emplace_back(idx, shared);
          continue;
        }
        request_of[idx] = requests.size();
        requests.push_back({bytes, step, last});
        request_on_device.push_back(device_value);
        request_value.push_back(idx);
      } else if (device_value) {
        cs.slots[idx] = Slot::kDeviceDynamic;
        if (device_dynamic.empty()) device_dynamic = fmt::format("{} writes '{}', whose size depends on the data", n.describe(), o->name());
      } else {
        cs.slots[idx] = Slot::kDynamic;
      }
    }
    for (const Value* o : n.outputs()) all_pre &= (o == nullptr || cs.slots[index_of(e, o)] == Slot::kPrecomputed);
    cs.skip[step] = all_pre;
  }
  std::vector<PinnedValue> pinned_precomputed;  // copied into their pinned slots when placed
  if (e.device) {
    KILN_RETURN_IF_ERROR(plan_device_io(cs, states, last_use, request_of, requests, request_on_device, request_value, pinned_precomputed));
    if (!device_dynamic.empty() && cs.capturable) {
      cs.capturable = false;
      cs.capture_note = device_dynamic;
    }
  }
  // One plan per memory: host requests in the host arena, device requests in the device arena.
  std::vector<size_t> offsets(requests.size());
  auto plan_part = [&](bool device) {
    std::vector<BufferRequest> part;
    std::vector<size_t> which;
    for (size_t r = 0; r < requests.size(); ++r) {
      if (request_on_device[r] != device) continue;
      part.push_back(requests[r]);
      which.push_back(r);
    }
    const MemoryPlan mp = plan_memory(part);
    for (size_t k = 0; k < which.size(); ++k) offsets[which[k]] = mp.offsets[k];
    return mp.arena_bytes;
  };
  cs.arena_bytes = plan_part(false);
  cs.device_arena_bytes = plan_part(true);
  if (!allocate) return ok_status();
  // A captured graph holds this plan's addresses: a new plan starts without one, warmed up anew.
  cs.graph.reset();
  cs.warm_thread = 0;
  cs.capture_failure.clear();
  if (e.device && cs.arena_bytes > cs.arena_capacity) {
    // Page-locked: copies to and from the device are asynchronous and can be captured.
    cs.arena.reset();
    cs.arena_capacity = 0;
    KILN_ASSIGN_OR_RETURN(void* p, e.device->allocate_host(cs.arena_bytes));
    const Device* d = e.device;
    cs.arena = std::shared_ptr<void>(p, [d](void* q) { d->free_host(q); });
    cs.arena_capacity = cs.arena_bytes;
  }
  if (cs.arena_bytes > cs.arena_capacity) {
    void* p = std::aligned_alloc(kArenaAlignment, cs.arena_bytes);
    if (!p) return out_of_memory(fmt::format("cannot allocate a {}-byte activation arena", cs.arena_bytes));
    cs.arena = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    cs.arena_capacity = cs.arena_bytes;
  }
  if (e.device && !cs.stream) {
    KILN_ASSIGN_OR_RETURN(void* st, e.device->create_stream());
    const Device* d = e.device;
    cs.stream = std::shared_ptr<void>(st, [d](void* q) { d->destroy_stream(q); });
  }
  if (e.device && cs.device_arena_bytes > cs.device_arena_capacity) {
    cs.device_arena.reset();  // the old one first: device memory is the scarcer
    cs.device_arena_capacity = 0;
    KILN_ASSIGN_OR_RETURN(void* p, e.device->allocate(cs.device_arena_bytes));
    const Device* d = e.device;
    cs.device_arena = std::shared_ptr<void>(p, [d](void* q) { d->free(q); });
    cs.device_arena_capacity = cs.device_arena_bytes;
  }
  auto* base = static_cast<uint8_t*>(cs.arena.get());
  auto* device_base = static_cast<uint8_t*>(cs.device_arena.get());
  auto place = [&](size_t idx, size_t r) {
    Tensor& t = cs.planned_tensors[idx];
    t = Tensor::wrap(t.dtype(), t.shape(), (request_on_device[r] ? device_base : base) + offsets[r]);
  };
  for (size_t r = 0; r < requests.size(); ++r) place(request_value[r], r);
  for (const auto& [idx, r] : shared_buffers) place(idx, r);
  for (const PinnedValue& p : pinned_precomputed) {
    // Computed on the heap at planning; the pinned slot is what device copies read.
    if (p.heap.nbytes()) std::memcpy(cs.planned_tensors[p.value].data(), p.heap.data(), p.heap.nbytes());
  }
  cs.table.assign(nv, nullptr);
  for (const auto& v : g.values()) {
    if (v->constant) cs.table[index_of(e, v.get())] = &*v->constant;
  }
  cs.signature.clear();
  for (const Value* in : g.inputs()) cs.signature.push_back(inputs.at(in->name()).shape());
  cs.planned = true;
  return ok_status();
}

bool same_signature(const ContextState& cs, const Graph& g, const NamedTensors& inputs) {
  if (!cs.planned || cs.signature.size() != g.inputs().size()) return false;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    if (inputs.at(g.inputs()[i]->name()).shape() != cs.signature[i]) return false;
  }
  return true;
}

}  // namespace

Result<int64_t> planned_arena_bytes(const std::shared_ptr<const EngineState>& engine, const std::map<std::string, Dims>& shapes) {
  ContextState cs;
  cs.engine = engine;
  NamedTensors inputs;
  for (const IoInfo& io : engine->inputs) {
    auto it = shapes.find(io.name);
    if (it == shapes.end()) return invalid_argument(fmt::format("no shape for input '{}'", io.name));
    inputs[io.name] = Tensor::wrap(io.dtype, it->second, nullptr);  // shapes only: planning reads no data
  }
  KILN_RETURN_IF_ERROR(plan(cs, inputs, /*allocate=*/false));
  return static_cast<int64_t>(cs.arena_bytes + cs.device_arena_bytes);  // host and device arenas together
}

ExecutionContext::ExecutionContext(std::unique_ptr<ContextState> state) : state_(std::move(state)) {}
ExecutionContext::~ExecutionContext() = default;

namespace {

// A number for the calling thread, never reused while the process lives (a std::thread::id may be).
uint64_t this_thread_serial() {
  static std::atomic<uint64_t> next{1};
  thread_local const uint64_t serial = next.fetch_add(1);
  return serial;
}

// Points the value table at this run's inputs (through their pinned staging where a device copy
// reads them or, for run_on_device, where a host layer does) and the precomputed values.
Status start_run(ContextState& cs, const NamedTensors& inputs) {
  const EngineState& e = *cs.engine;
  const Graph& g = *e.graph;
  cs.dynamic.clear();
  bool downloads = false;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value* x = g.inputs()[i];
    const size_t idx = index_of(e, x);
    cs.table[idx] = &inputs.at(x->name());
    if (!e.device || !cs.input_uses[i].staged) continue;
    Tensor& staging = cs.planned_tensors[idx];
    const Tensor& given = inputs.at(x->name());
    if (cs.device_io) {
      // The caller's input is in device memory; host layers read a copy.
      cs.table[idx] = &staging;
      if (cs.input_uses[i].on_host && staging.nbytes()) {
        KILN_RETURN_IF_ERROR(e.device->copy_to_host(staging.data(), given.data(), staging.nbytes(), cs.stream.get()));
        downloads = true;
      }
    } else if (cs.input_uses[i].to_device) {
      if (staging.nbytes()) std::memcpy(staging.data(), given.data(), staging.nbytes());
      cs.table[idx] = &staging;
    }
  }
  if (downloads) KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
  for (size_t i = 0; i < cs.slots.size(); ++i) {
    if (cs.slots[i] == Slot::kPrecomputed) cs.table[i] = &cs.planned_tensors[i];
  }
  return ok_status();
}

// One step: its kernel, or with run_on_device what stands for a graph input's kiln.CopyToDevice
// (nothing: the layers read the caller's pointer) or a graph output's kiln.CopyToHost (a copy into
// the caller's device buffer, if one was given).
Status run_step(ContextState& cs, size_t step, NamedTensors* outputs) {
  const EngineState& e = *cs.engine;
  const Node& n = *e.graph->nodes()[step];
  const bool on_device = cs.step_on_device[step];
  if (cs.device_io && on_device && cs.step_role[step] == ContextState::StepRole::kInputUpload) {
    const size_t out = index_of(e, n.output(0));
    const Tensor& given = cs.bound_inputs[cs.step_io[step]];
    if (!cs.upload_shared[step]) {
      cs.table[out] = &given;
      return ok_status();
    }
    Tensor& own = cs.planned_tensors[out];
    if (own.nbytes()) KILN_RETURN_IF_ERROR(e.device->copy_on_device(own.data(), given.data(), own.nbytes(), cs.stream.get()));
    cs.table[out] = &own;
    return ok_status();
  }
  if (cs.device_io && on_device && cs.step_role[step] == ContextState::StepRole::kOutputDownload) {
    const size_t k = cs.step_io[step];
    const Tensor* src = cs.table[index_of(e, n.input(0))];
    if (!src) return internal_error(fmt::format("{}: input '{}' has no value", n.describe(), n.input(0)->name()));
    void* dst = cs.bound_outputs[k];
    // A caller may hand back the pointer an earlier run gave it: then the value is already there.
    if (dst && dst != src->data() && src->nbytes()) {
      KILN_RETURN_IF_ERROR(e.device->copy_on_device(dst, src->data(), src->nbytes(), cs.stream.get()));
    }
    cs.output_device_data[k] = dst ? dst : src->data();
    return ok_status();
  }
  auto it = e.kernels.find(&n);
  if (it == e.kernels.end()) return internal_error(fmt::format("{}: no kernel", n.describe()));
  MainKernelContext ctx(cs, n, outputs, on_device);
  // A profiled device layer is timed on the device (events around it, read after the run), or,
  // where the device has no events, by waiting for the stream before and after it: either way
  // its time is the layer's work on the GPU, not just the time to queue it.
  const bool events = cs.profiling && on_device && !cs.profile_events.empty();
  if (events) KILN_RETURN_IF_ERROR(e.device->record_event(cs.profile_events[2 * step].get(), cs.stream.get()));
  if (cs.profiling && on_device && !events) KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
  const auto start = cs.profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  Status s = it->second->run(ctx);
  if (!s.ok()) return s;
  if (events) {
    KILN_RETURN_IF_ERROR(e.device->record_event(cs.profile_events[2 * step + 1].get(), cs.stream.get()));
    cs.timed_steps.push_back(step);
  } else if (cs.profiling && on_device) {
    KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
  }
  if (cs.profiling && !events) {
    ExecutionContext::LayerTime& t = cs.layer_times[step];
    ++t.runs;
    t.total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  for (size_t i = 0; i < n.num_outputs(); ++i) {
    const Value* o = n.output(i);
    if (o && !cs.table[index_of(e, o)]) {
      return internal_error(fmt::format("{}: output {} '{}' was not produced", n.describe(), i, o->name()));
    }
  }
  return ok_status();
}

// After a profiled run has waited for its stream: each device layer marked by events gets the
// device time between its two.
Status add_device_layer_times(ContextState& cs) {
  for (size_t step : cs.timed_steps) {
    KILN_ASSIGN_OR_RETURN(float ms, cs.engine->device->elapsed_ms(cs.profile_events[2 * step].get(), cs.profile_events[2 * step + 1].get()));
    ExecutionContext::LayerTime& t = cs.layer_times[step];
    ++t.runs;
    t.total_ms += ms;
  }
  cs.timed_steps.clear();
  return ok_status();
}

// Every step of the plan, then waits for the device's queued work.
//
// Without CUDA graphs (or when the run cannot be captured) steps run in the graph's order and the
// stream is waited for where the run passes from device layers to a host layer (a host layer may
// read what a kiln.CopyToHost queued). With CUDA graphs the plan's host layers read no device
// value, so they all run first and the device layers' work is then run, captured or replayed as
// one piece (ExecutionContext::set_cuda_graph says when which).
Status run_steps(ContextState& cs, NamedTensors* outputs) {
  const EngineState& e = *cs.engine;
  const size_t end = e.graph->num_nodes();
  void* stream = cs.stream.get();
  const bool graph_order = e.device && cs.cuda_graph && cs.capturable && !cs.profiling;
  cs.timed_steps.clear();  // marks a failed run left behind
  if (!graph_order) {
    if (e.device && cs.cuda_graph) ++cs.graph_counts.uncaptured;
    bool device_work_queued = false;
    for (size_t step = 0; step < end; ++step) {
      if (cs.skip[step]) continue;
      if (cs.step_on_device[step]) {
        device_work_queued = true;
      } else if (device_work_queued) {
        KILN_RETURN_IF_ERROR(e.device->synchronize(stream));
        device_work_queued = false;
      }
      KILN_RETURN_IF_ERROR(run_step(cs, step, outputs));
    }
    if (e.device && stream) KILN_RETURN_IF_ERROR(e.device->synchronize(stream));
    return add_device_layer_times(cs);
  }
  for (size_t step = 0; step < end; ++step) {
    if (!cs.skip[step] && !cs.step_on_device[step]) KILN_RETURN_IF_ERROR(run_step(cs, step, outputs));
  }
  auto device_steps = [&]() -> Status {
    for (size_t step = 0; step < end; ++step) {
      if (!cs.skip[step] && cs.step_on_device[step]) KILN_RETURN_IF_ERROR(run_step(cs, step, outputs));
    }
    return ok_status();
  };
  const uint64_t me = this_thread_serial();
  // The caller's device addresses a graph captured by run_on_device holds.
  std::vector<const void*> key;
  if (cs.device_io) {
    for (const Tensor& t : cs.bound_inputs) key.push_back(t.data());
    for (const void* p : cs.bound_outputs) key.push_back(p);
  }
  if (cs.graph && cs.graph_thread == me && cs.graph_device_io == cs.device_io && cs.graph_key == key) {
    // Replay: no kernel runs, so the table gets the planned slots the kernels would have written.
    for (size_t i = 0; i < cs.slots.size(); ++i) {
      if (cs.slots[i] == Slot::kArena) cs.table[i] = &cs.planned_tensors[i];
    }
    KILN_RETURN_IF_ERROR(e.device->launch_graph(cs.graph.get(), stream));
    ++cs.graph_counts.replayed;
    return e.device->synchronize(stream);
  }
  if (cs.warm_thread != me || !cs.capture_failure.empty()) {
    // The first run at these shapes on this thread makes the kernels' plans and workspaces
    // (nothing a capture may do); a plan that failed to capture keeps running directly.
    KILN_RETURN_IF_ERROR(device_steps());
    cs.warm_thread = me;
    ++cs.graph_counts.uncaptured;
    return e.device->synchronize(stream);
  }
  cs.graph.reset();
  Status failed = e.device->begin_capture(stream);
  if (failed.ok()) {
    const Status ran = device_steps();
    Result<void*> exec = e.device->end_capture(stream);
    if (ran.ok() && exec.ok()) {
      const Device* d = e.device;
      cs.graph = std::shared_ptr<void>(*exec, [d](void* q) { d->destroy_graph(q); });
      cs.graph_thread = me;
      cs.graph_device_io = cs.device_io;
      cs.graph_key = std::move(key);
      KILN_RETURN_IF_ERROR(e.device->launch_graph(cs.graph.get(), stream));
      ++cs.graph_counts.captured;
      return e.device->synchronize(stream);
    }
    if (exec.ok()) e.device->destroy_graph(*exec);
    failed = ran.ok() ? exec.status() : ran;
  }
  cs.capture_failure = fmt::format("capturing the run's device work failed ({}); runs at these shapes are not captured", failed.message());
  // Nothing of the captured work ran: run it now.
  KILN_RETURN_IF_ERROR(device_steps());
  ++cs.graph_counts.uncaptured;
  return e.device->synchronize(stream);
}

Status check_device_engine(const EngineState& e, const char* what) {
  if (e.device) return ok_status();
  return invalid_argument(fmt::format("{} an engine whose layers run on a device (built for the cuda backend); this engine was "
                                      "built for the '{}' backend and runs in host memory",
                                      what, e.meta.backend));
}

}  // namespace

Status ExecutionContext::run(const NamedTensors& inputs, NamedTensors* outputs) {
  return guard("run", [&] { return run_unguarded(inputs, outputs); });
}

Status ExecutionContext::run_unguarded(const NamedTensors& inputs, NamedTensors* outputs) {
  if (!outputs) return invalid_argument("run: outputs must not be null");
  ContextState& cs = *state_;
  const EngineState& e = *cs.engine;
  const Graph& g = *e.graph;
  KILN_RETURN_IF_ERROR(validate_inputs(e, inputs));
  if (!same_signature(cs, g, inputs)) {
    cs.planned = false;
    KILN_RETURN_IF_ERROR(plan(cs, inputs));
  }
  cs.device_io = false;
  KILN_RETURN_IF_ERROR(start_run(cs, inputs));
  // The device's queued work (the copies to the outputs included) finishes before run returns.
  KILN_RETURN_IF_ERROR(run_steps(cs, outputs));
  // Outputs that no node wrote in place (an input or constant passed straight through; with a
  // device, outputs in pinned staging).
  for (const Value* o : g.outputs()) {
    const Tensor* t = cs.table[index_of(e, o)];
    if (!t) return internal_error(fmt::format("output '{}' has no value", o->name()));
    auto it = outputs->find(o->name());
    if (it != outputs->end() && &it->second == t) continue;
    if (it != outputs->end() && it->second.dtype() == t->dtype() && it->second.shape() == t->shape() && it->second.data()) {
      if (t->nbytes()) std::memcpy(it->second.data(), t->data(), t->nbytes());
      continue;
    }
    KILN_ASSIGN_OR_RETURN((*outputs)[o->name()], t->clone());
  }
  cs.dynamic.clear();
  return ok_status();
}

Status ExecutionContext::run_on_device(const NamedDeviceTensors& inputs, NamedDeviceTensors* outputs) {
  return guard("run_on_device", [&] { return run_on_device_unguarded(inputs, outputs); });
}

Status ExecutionContext::run_on_device_unguarded(const NamedDeviceTensors& inputs, NamedDeviceTensors* outputs) {
  ContextState& cs = *state_;
  const EngineState& e = *cs.engine;
  const Graph& g = *e.graph;
  KILN_RETURN_IF_ERROR(check_device_engine(e, "run_on_device needs"));
  if (!outputs) return invalid_argument("run_on_device: outputs must not be null");
  // Views of the caller's device memory: validation and planning read only dtypes and shapes.
  NamedTensors views;
  for (const auto& [name, t] : inputs) {
    for (size_t d = 0; d < t.dims.size(); ++d) {
      if (t.dims[d] < 0) return invalid_argument(fmt::format("input '{}' has shape {}: dim {} is negative", name, dims_to_string(t.dims), d));
    }
    views[name] = Tensor::wrap(t.dtype, t.dims, t.data);
  }
  KILN_RETURN_IF_ERROR(validate_inputs(e, views));
  for (const auto& [name, t] : inputs) {
    if (!dtype_is_supported(t.dtype)) {
      return invalid_argument(fmt::format("input '{}' has dtype {}, which cannot be in device memory", name, dtype_name(t.dtype)));
    }
    if (element_count(t.dims) > 0 && !e.device->is_device_memory(t.data)) {
      return invalid_argument(fmt::format("input '{}' is not in device memory (run_on_device takes device pointers; run() takes host tensors)", name));
    }
  }
  if (!same_signature(cs, g, views)) {
    cs.planned = false;
    KILN_RETURN_IF_ERROR(plan(cs, views));
  }
  cs.bound_inputs.clear();
  for (const Value* x : g.inputs()) cs.bound_inputs.push_back(views.at(x->name()));
  const size_t n_out = g.outputs().size();
  cs.bound_outputs.assign(n_out, nullptr);
  cs.output_device_data.resize(n_out, nullptr);
  auto given_buffer = [&](size_t k, const DataType dtype, const Dims& dims) -> Result<void*> {
    const std::string& name = g.outputs()[k]->name();
    auto it = outputs->find(name);
    if (it == outputs->end() || !it->second.data) return static_cast<void*>(nullptr);
    const DeviceTensor& t = it->second;
    if (t.dtype != dtype || t.dims != dims) {
      return invalid_argument(fmt::format("output '{}' is given as {}[{}], but the engine gives {}[{}] for these inputs", name,
                                          dtype_name(t.dtype), dims_to_string(t.dims), dtype_name(dtype), dims_to_string(dims)));
    }
    if (element_count(dims) > 0 && !e.device->is_device_memory(t.data)) {
      return invalid_argument(fmt::format("output '{}' is not in device memory (run_on_device takes device pointers)", name));
    }
    return t.data;
  };
  // Outputs computed on the device have their planned shapes: check the caller's buffers first.
  for (size_t k = 0; k < n_out; ++k) {
    if (cs.output_download[k] == SIZE_MAX) continue;
    const Tensor& planned = cs.planned_tensors[index_of(e, g.outputs()[k])];
    KILN_ASSIGN_OR_RETURN(cs.bound_outputs[k], given_buffer(k, planned.dtype(), planned.shape()));
  }
  cs.device_io = true;
  KILN_RETURN_IF_ERROR(start_run(cs, views));
  KILN_RETURN_IF_ERROR(run_steps(cs, &cs.host_outputs));
  // Outputs a host layer computed (or inputs passed through) go up now.
  NamedDeviceTensors result;
  bool uploads = false;
  for (size_t k = 0; k < n_out; ++k) {
    const Value* o = g.outputs()[k];
    if (cs.output_download[k] != SIZE_MAX) {
      const Tensor& planned = cs.planned_tensors[index_of(e, o)];
      result[o->name()] = DeviceTensor{planned.dtype(), planned.shape(), const_cast<void*>(cs.output_device_data[k])};
      continue;
    }
    const Tensor* t = cs.table[index_of(e, o)];
    if (!t) return internal_error(fmt::format("output '{}' has no value", o->name()));
    if (!dtype_is_supported(t->dtype())) {
      return unsupported(fmt::format("output '{}' has dtype {}, which cannot be in device memory", o->name(), dtype_name(t->dtype())));
    }
    KILN_ASSIGN_OR_RETURN(void* dst, given_buffer(k, t->dtype(), t->shape()));
    if (!dst) {
      cs.owned_outputs.resize(n_out);
      cs.owned_output_bytes.resize(n_out, 0);
      if (t->nbytes() > cs.owned_output_bytes[k] || !cs.owned_outputs[k]) {
        cs.owned_outputs[k].reset();
        KILN_ASSIGN_OR_RETURN(void* p, e.device->allocate(t->nbytes()));
        const Device* d = e.device;
        cs.owned_outputs[k] = std::shared_ptr<void>(p, [d](void* q) { d->free(q); });
        cs.owned_output_bytes[k] = t->nbytes();
      }
      dst = cs.owned_outputs[k].get();
    }
    if (t->nbytes()) {
      KILN_RETURN_IF_ERROR(e.device->copy_to_device(dst, t->data(), t->nbytes(), cs.stream.get()));
      uploads = true;
    }
    result[o->name()] = DeviceTensor{t->dtype(), t->shape(), dst};
  }
  if (uploads) KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
  for (auto& [name, t] : result) (*outputs)[name] = std::move(t);
  cs.dynamic.clear();
  return ok_status();
}

Status ExecutionContext::set_cuda_graph(bool on) {
  ContextState& cs = *state_;
  if (on) {
    KILN_RETURN_IF_ERROR(check_device_engine(*cs.engine, "CUDA graphs need"));
    if (cs.profiling) {
      return invalid_argument("CUDA graphs and per-layer profiling are exclusive (a replayed graph runs no layer on its own): profiling is on");
    }
  }
  cs.cuda_graph = on;
  cs.graph.reset();
  cs.capture_failure.clear();
  cs.graph_counts = CudaGraphCounts{};
  return ok_status();
}

bool ExecutionContext::cuda_graph() const { return state_->cuda_graph; }

std::string ExecutionContext::cuda_graph_note() const {
  const ContextState& cs = *state_;
  if (!cs.cuda_graph) return "";
  if (cs.profiling) return "per-layer profiling is on, and runs are not captured while it is";
  if (!cs.planned) return "";
  if (!cs.capturable) return cs.capture_note;
  return cs.capture_failure;
}

ExecutionContext::CudaGraphCounts ExecutionContext::cuda_graph_counts() const { return state_->graph_counts; }

bool Engine::uses_device() const { return state_->device != nullptr; }

void ExecutionContext::set_profiling(bool on) {
  ContextState& cs = *state_;
  cs.profiling = on;
  cs.layer_times.assign(on ? cs.engine->graph->num_nodes() : 0, LayerTime{});
  cs.timed_steps.clear();
  cs.profile_events.clear();
  const Device* d = cs.engine->device;
  if (!on || !d) return;
  for (size_t i = 0; i < 2 * cs.engine->graph->num_nodes(); ++i) {
    Result<void*> ev = d->create_event();
    if (!ev.ok()) {  // no events: device layers are timed by waiting for the stream around them
      cs.profile_events.clear();
      return;
    }
    cs.profile_events.emplace_back(*ev, [d](void* p) { d->destroy_event(p); });
  }
}

std::vector<ExecutionContext::LayerTime> ExecutionContext::layer_times() const {
  if (!state_->profiling) return std::vector<LayerTime>(state_->engine->graph->num_nodes());
  return state_->layer_times;
}

Result<std::unique_ptr<ExecutionContext>> Engine::create_execution_context() const {
  auto cs = std::make_unique<ContextState>();
  cs->engine = state_;
  return std::make_unique<ExecutionContext>(std::move(cs));
}

}  // namespace kiln
