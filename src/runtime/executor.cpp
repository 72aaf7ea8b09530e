// ExecutionContext: validates inputs, plans memory once per input-shape signature, runs kernels.
//
// Planning re-runs type/shape inference with the call's concrete shapes. Values that inference can
// compute outright (shape arithmetic: Shape -> Gather -> Concat ...) are computed then and their
// nodes skipped at run time; values of known size get arena slots from the liveness plan; only
// values whose size depends on data (NonZero, ...) are allocated during the run.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_set>

#include "backends/reference/reference_backend.h"
#include "core/guard.h"
#include "fmt/format.h"
#include "ir/inference.h"
#include "runtime/engine_state.h"
#include "runtime/memory_plan.h"

namespace kiln {

namespace {

enum class Slot : uint8_t { kUnset, kInput, kConstant, kPrecomputed, kArena, kOutput, kDynamic };

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

  // Per run.
  std::vector<const Tensor*> table;  // per value index
  std::deque<Tensor> dynamic;        // data-dependent values and omitted outputs of this run

  // Per-layer timing, when on (set_profiling): indexed like the graph's nodes.
  bool profiling = false;
  std::vector<ExecutionContext::LayerTime> layer_times;
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
      // Device outputs live in the planned device arena only: anything else would be host memory.
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
  for (const InputRange& r : e.meta.profile) {
    auto it = inputs.find(r.input);
    if (it == inputs.end()) continue;
    const Dims& d = it->second.shape();
    for (size_t k = 0; k < d.size() && k < r.min.size() && k < r.max.size(); ++k) {
      if (d[k] < r.min[k] || d[k] > r.max[k]) {
        return invalid_argument(fmt::format("input '{}' has shape {}, outside the engine's profile {} .. {} (dim {})", r.input,
                                            dims_to_string(d), dims_to_string(r.min), dims_to_string(r.max), k));
      }
    }
  }
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
  // Uses, including reads from inside subgraph bodies (attributed to the owning node).
  for (size_t step = 0; step < g.num_nodes(); ++step) {
    const Node& n = *g.nodes()[step];
    for (const Value* in : n.inputs()) {
      if (in) last_use[index_of(e, in)] = step;
    }
    for (const auto& [an, a] : n.attrs.all()) {
      std::vector<const Graph*> subs;
      if (a.g) subs.push_back(a.g.get());
      for (const auto& sg : a.graphs) subs.push_back(sg.get());
      for (const Graph* sg : subs) {
        for (const Value* r : sg->outer_refs()) {
          if (const Value* outer = g.find_value(r->name())) last_use[index_of(e, outer)] = step;
        }
      }
    }
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
      if (o->is_graph_output()) {
        cs.slots[idx] = Slot::kOutput;
      } else if (is_static(s.shape) && dtype_is_supported(s.dtype)) {
        cs.slots[idx] = Slot::kArena;
        const Dims dims = static_dims(*s.shape);
        cs.planned_tensors[idx] = Tensor::wrap(s.dtype, dims, nullptr);
        const size_t bytes = static_cast<size_t>(element_count(dims)) * dtype_size(s.dtype);
        const size_t last = std::max(step, last_use[idx]);
        if (auto shared = inplace_request(e, n, o, bytes, step, last_use, request_of, requests);
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
        return unsupported(fmt::format("{}: output '{}' has a size that depends on the data ({}), which the device arena cannot plan",
                                       n.describe(), o->name(), s.shape ? dims_to_string(static_dims(*s.shape)) : "unknown rank"));
      } else {
        cs.slots[idx] = Slot::kDynamic;
      }
    }
    for (const Value* o : n.outputs()) all_pre &= (o == nullptr || cs.slots[index_of(e, o)] == Slot::kPrecomputed);
    cs.skip[step] = all_pre;
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
  cs.dynamic.clear();
  for (const Value* in : g.inputs()) cs.table[index_of(e, in)] = &inputs.at(in->name());
  for (size_t i = 0; i < cs.slots.size(); ++i) {
    if (cs.slots[i] == Slot::kPrecomputed) cs.table[i] = &cs.planned_tensors[i];
  }
  // Device work queued since the stream was last waited for. A host node may read what a
  // kiln.CopyToHost queued (a copy into pageable memory need not be complete when the call
  // returns), so the stream is waited for where the run passes from device nodes to a host node.
  bool device_work_queued = false;
  for (size_t step = 0; step < g.num_nodes(); ++step) {
    if (cs.skip[step]) continue;
    const Node& n = *g.nodes()[step];
    auto it = e.kernels.find(&n);
    if (it == e.kernels.end()) return internal_error(fmt::format("{}: no kernel", n.describe()));
    if (cs.step_on_device[step]) {
      device_work_queued = true;
    } else if (device_work_queued) {
      KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
      device_work_queued = false;
    }
    MainKernelContext ctx(cs, n, outputs, cs.step_on_device[step]);
    const auto start = cs.profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = it->second->run(ctx);
    if (!s.ok()) return s;
    if (cs.profiling) {
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
  }
  // The device's queued work (the copies to the outputs included) finishes before run returns.
  if (e.device && cs.stream) KILN_RETURN_IF_ERROR(e.device->synchronize(cs.stream.get()));
  // Outputs that no node wrote in place (an input or constant passed straight through).
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

void ExecutionContext::set_profiling(bool on) {
  state_->profiling = on;
  state_->layer_times.assign(on ? state_->engine->graph->num_nodes() : 0, LayerTime{});
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
