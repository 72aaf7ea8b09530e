#include <algorithm>
// The cross-backend op harness runner (after ggml's test-backend-ops and ncnn's test_layer).
//
// Each Case becomes a one-node Graph built in code and goes through build_engine on every
// available backend. The reference backend is the oracle, so for it we check what can honestly be
// checked on its own: it builds and runs (or says unsupported), inference agrees with what the
// kernel produced, two runs are bitwise identical, and a direct run through a guarded
// KernelContext shows no out-of-bounds writes and no writes to inputs. Every other backend is
// compared with the reference by normalized error. Nothing here names a backend other than
// "reference": a new backend in all_backends() is picked up as is.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <deque>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "backends/backend.h"
#include "builder/builder.h"
#include "core/dispatch.h"
#include "fmt/format.h"
#include "harness/harness.h"
#include "ir/inference.h"
#include "ir/op_schema.h"
#include "runtime/engine_state.h"

namespace kiln::harness {
namespace {

constexpr const char* kOracle = "reference";
constexpr size_t kGuardBytes = 64;

enum class Verdict { kPass, kFail, kUnsupported };

struct Outcome {
  Verdict verdict = Verdict::kPass;
  std::string reason;
};

Outcome fail(std::string why) { return {Verdict::kFail, std::move(why)}; }
Outcome unsup(std::string why) { return {Verdict::kUnsupported, std::move(why)}; }

// --- inputs ----------------------------------------------------------------------------------

// FNV-1a: a seed that depends only on the case name, so reruns and backends see the same data.
uint64_t seed_for(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

Result<Tensor> make_input(const CaseInput& ci, std::mt19937_64& rng) {
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(ci.dtype, ci.dims));
  if (ci.fill == Fill::kValues && ci.values.empty() && t.numel() > 0) {
    return invalid_argument("Fill::kValues with no values");
  }
  Status s = dispatch_all(ci.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* p = t.data_as<T>();
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int64_t i = 0; i < t.numel(); ++i) {
      double v = 0;
      if (ci.fill == Fill::kValues) {
        v = ci.values[static_cast<size_t>(i) % ci.values.size()];
      } else if constexpr (std::is_same_v<T, bool>) {
        v = unit(rng) < 0.5 ? 0 : 1;
      } else if constexpr (std::is_integral_v<T>) {
        const bool pos = ci.fill == Fill::kPositive;
        const int64_t lo = pos ? 1 : (std::is_signed_v<T> ? -5 : 0), hi = 5;
        v = static_cast<double>(lo + static_cast<int64_t>(unit(rng) * static_cast<double>(hi - lo + 1)));
        v = std::min(v, static_cast<double>(hi));
      } else {
        v = ci.fill == Fill::kPositive ? 0.1 + 1.9 * unit(rng) : -1.0 + 2.0 * unit(rng);
      }
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = v != 0;
      } else if constexpr (std::is_integral_v<T>) {
        // Through int64 so a listed value outside T's range wraps (defined) instead of being an
        // out-of-range float-to-int conversion (undefined).
        p[i] = static_cast<T>(static_cast<int64_t>(std::clamp(v, -9.2e18, 9.2e18)));
      } else {
        p[i] = static_cast<T>(static_cast<C>(v));
      }
    }
    return ok_status();
  });
  if (!s.ok()) return s;
  return t;
}

// Per input: its tensor, or nullopt for an omitted optional input.
using CaseData = std::vector<std::optional<Tensor>>;

Result<CaseData> make_data(const Case& c) {
  std::mt19937_64 rng(seed_for(c.name));
  CaseData d;
  for (const CaseInput& ci : c.inputs) {
    if (ci.omitted) {
      d.emplace_back();
      continue;
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, make_input(ci, rng));
    d.emplace_back(std::move(t));
  }
  return d;
}

std::string input_name(size_t i) { return fmt::format("in{}", i); }
std::string output_name(size_t i) { return fmt::format("out{}", i); }

// The one-node graph of a case; `feeds` receives the graph inputs' tensors.
Result<std::unique_ptr<Graph>> make_graph(const Case& c, const CaseData& data, NamedTensors* feeds) {
  auto g = std::make_unique<Graph>();
  g->name = c.name;
  g->opset_imports[c.domain] = c.opset;
  std::vector<Value*> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!data[i]) {
      ins.push_back(nullptr);
      continue;
    }
    const Tensor& t = *data[i];
    if (c.inputs[i].constant) {
      ins.push_back(g->add_constant(input_name(i), t));
    } else {
      Value* v = g->add_value(input_name(i), t.dtype(), sym_shape(t.shape()));
      g->add_input(v);
      (*feeds)[v->name()] = t;
      ins.push_back(v);
    }
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < c.num_outputs; ++i) outs.push_back(g->add_value(output_name(i)));
  Node* n = g->add_node(c.op_type, ins, outs, "node_" + c.name, c.domain);
  n->opset = c.opset;
  n->fused_from = {n->name};
  n->schema = OpRegistry::global().find(c.domain, c.op_type, c.opset);
  if (!n->schema) {
    return internal_error(OpRegistry::global().knows(c.domain, c.op_type)
                              ? fmt::format("op {} has no schema at opset {}", c.op_type, c.opset)
                              : fmt::format("op {} is unknown to kiln (its op family is missing)", c.op_type));
  }
  if (c.attrs) c.attrs(n->attrs);
  for (Value* o : outs) g->add_output(o);
  return g;
}

// --- guarded kernel context ------------------------------------------------------------------

// [64 guard bytes][data][64 guard bytes], data 64-byte aligned like the runtime's arena slices.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t nbytes) : nbytes_(nbytes) {
    const size_t total = (kGuardBytes + nbytes + kGuardBytes + 63) / 64 * 64;
    block_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(std::aligned_alloc(64, total)), [](uint8_t* p) { std::free(p); });
    for (size_t k = 0; k < kGuardBytes; ++k) {
      block_.get()[k] = pattern(k);
      block_.get()[kGuardBytes + nbytes + k] = pattern(k + kGuardBytes);
    }
    std::memset(data(), 0, nbytes);
  }
  uint8_t* data() const { return block_.get() + kGuardBytes; }
  size_t nbytes() const { return nbytes_; }
  std::shared_ptr<const void> keepalive() const { return block_; }
  // "" when both guards are intact, else which side was overwritten.
  std::string damage() const {
    std::string where;
    for (size_t k = 0; k < kGuardBytes; ++k) {
      if (block_.get()[k] != pattern(k)) {
        where = fmt::format("up to {} bytes before the start", kGuardBytes - k);
        break;
      }
    }
    for (size_t k = kGuardBytes; k-- > 0;) {
      if (block_.get()[kGuardBytes + nbytes_ + k] != pattern(k + kGuardBytes)) {
        where += fmt::format("{}up to {} bytes past the end", where.empty() ? "" : " and ", k + 1);
        break;
      }
    }
    return where;
  }

 private:
  // Not a constant byte: a kernel writing a run of one value still changes some guard byte.
  static uint8_t pattern(size_t k) { return static_cast<uint8_t>(0xA5u ^ (k * 37u)); }
  size_t nbytes_;
  std::shared_ptr<uint8_t> block_;
};

using OuterLookup = std::function<const Tensor*(const std::string&)>;

class GuardContext final : public KernelContext {
 public:
  GuardContext(const Backend& backend, const Node& n, const std::vector<const Tensor*>& inputs, OuterLookup outer,
               std::vector<std::string>* problems)
      : backend_(backend), node_(n), outer_(std::move(outer)), problems_(problems), outputs_(n.num_outputs()) {
    for (const Tensor* t : inputs) {
      if (!t) {
        in_copies_.emplace_back();
        continue;
      }
      GuardedBuffer b(t->nbytes());
      if (t->nbytes()) std::memcpy(b.data(), t->data(), t->nbytes());
      in_views_.push_back(Tensor::wrap(t->dtype(), t->shape(), b.data(), b.keepalive()));
      in_copies_.push_back(InputCopy{t, std::move(b), in_views_.size() - 1});
    }
  }

  const Node& node() const override { return node_; }
  size_t num_inputs() const override { return in_copies_.size(); }
  const Tensor* input(size_t i) const override {
    if (i >= in_copies_.size() || !in_copies_[i]) return nullptr;
    return &in_views_[in_copies_[i]->view];
  }
  size_t num_outputs() const override { return outputs_.size(); }
  Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) override {
    if (i >= outputs_.size()) return error(fmt::format("output {} does not exist", i));
    if (dtype_size(dtype) == 0) return error(fmt::format("output {} has dtype {}", i, dtype_name(dtype)));
    const int64_t n = element_count(dims);
    if (n < 0) return error(fmt::format("output {} has invalid shape {}", i, dims_to_string(dims)));
    out_buffers_.emplace_back(static_cast<size_t>(n) * dtype_size(dtype));
    outputs_[i] = Tensor::wrap(dtype, dims, out_buffers_.back().data(), out_buffers_.back().keepalive());
    return &outputs_[i];
  }
  Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) override;

  // Records guard damage and input changes; call after run().
  void check() {
    for (size_t i = 0; i < in_copies_.size(); ++i) {
      if (!in_copies_[i]) continue;
      const InputCopy& c = *in_copies_[i];
      if (std::string d = c.buf.damage(); !d.empty()) {
        problems_->push_back(fmt::format("{}: wrote {} of input {}", node_.describe(), d, i));
      }
      if (c.buf.nbytes() && std::memcmp(c.buf.data(), c.original->data(), c.buf.nbytes()) != 0) {
        problems_->push_back(fmt::format("{}: changed input {} (kernels must not write inputs)", node_.describe(), i));
      }
    }
    for (const GuardedBuffer& b : out_buffers_) {
      if (std::string d = b.damage(); !d.empty()) {
        problems_->push_back(fmt::format("{}: wrote {} of an output", node_.describe(), d));
      }
    }
  }
  const std::vector<Tensor>& outputs() const { return outputs_; }

 private:
  struct InputCopy {
    const Tensor* original;
    GuardedBuffer buf;
    size_t view;
  };
  const Backend& backend_;
  const Node& node_;
  OuterLookup outer_;
  std::vector<std::string>* problems_;
  std::vector<std::optional<InputCopy>> in_copies_;
  std::vector<Tensor> in_views_;
  std::vector<Tensor> outputs_;
  std::deque<GuardedBuffer> out_buffers_;  // every buffer handed out, re-allocations included
};

// Runs one node through a GuardContext; its outputs stay alive through their buffers.
Result<std::vector<Tensor>> run_guarded(const Backend& backend, const Node& n, const std::vector<const Tensor*>& ins,
                                        const OuterLookup& outer, std::vector<std::string>* problems) {
  const KernelEntry* e = backend.kernels().find(n);
  if (!e) return unsupported(fmt::format("{}: backend '{}' has no kernel", n.describe(), backend.name()));
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> k, e->create(n));
  GuardContext ctx(backend, n, ins, outer, problems);
  Status s = k->run(ctx);
  ctx.check();
  if (!s.ok()) return s;
  for (size_t i = 0; i < n.num_outputs(); ++i) {
    if (n.output(i) && !ctx.outputs()[i].defined()) return internal_error(fmt::format("{}: output {} was not produced", n.describe(), i));
  }
  return ctx.outputs();
}

// Subgraph bodies run node by node, each through its own GuardContext, so body kernels are
// checked too. Outer references resolve by name, innermost scope first.
Result<std::vector<Tensor>> GuardContext::run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs().size()) {
    return invalid_argument(fmt::format("subgraph '{}' takes {} inputs, given {}", g.name, g.inputs().size(), inputs.size()));
  }
  std::unordered_map<const Value*, Tensor> frame;
  for (size_t i = 0; i < inputs.size(); ++i) frame[g.inputs()[i]] = inputs[i];
  for (const auto& v : g.values()) {
    if (v->constant) frame[v.get()] = *v->constant;
  }
  for (const Value* r : g.outer_refs()) {
    const Tensor* t = outer_ ? outer_(r->name()) : nullptr;
    if (!t) return internal_error(fmt::format("subgraph '{}': outer value '{}' not found", g.name, r->name()));
    frame[r] = *t;
  }
  OuterLookup inner = [&](const std::string& name) -> const Tensor* {
    if (const Value* v = g.find_value(name)) {
      if (auto it = frame.find(v); it != frame.end()) return &it->second;
    }
    return outer_ ? outer_(name) : nullptr;
  };
  for (const auto& np : g.nodes()) {
    std::vector<const Tensor*> ins;
    for (const Value* v : np->inputs()) {
      if (!v) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = frame.find(v);
      if (it == frame.end()) return internal_error(fmt::format("{}: input '{}' has no value", np->describe(), v->name()));
      ins.push_back(&it->second);
    }
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run_guarded(backend_, *np, ins, inner, problems_));
    for (size_t i = 0; i < np->num_outputs(); ++i) {
      if (np->output(i)) frame[np->output(i)] = outs[i];
    }
  }
  std::vector<Tensor> result;
  for (const Value* o : g.outputs()) {
    auto it = frame.find(o);
    if (it == frame.end()) return internal_error(fmt::format("subgraph '{}': output '{}' has no value", g.name, o->name()));
    result.push_back(it->second);
  }
  return result;
}

// --- comparisons -----------------------------------------------------------------------------

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

Result<std::vector<double>> as_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  Status s = dispatch_all(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(static_cast<compute_t<T>>(p[i]));
    return ok_status();
  });
  if (!s.ok()) return s;
  return out;
}

// "" if `got` matches `want` (the reference): same dtype and shape, NaN where it has NaN, the
// same infinities, and normalized error ||got - want|| / max(||want||, tiny) within tolerance.
std::string compare(const Tensor& got, const Tensor& want, double tolerance) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return fmt::format("gave {}, the reference gave {}", got.describe(), want.describe());
  }
  auto g = as_doubles(got);
  auto w = as_doubles(want);
  if (!g.ok() || !w.ok()) {  // a dtype with no arithmetic here: only bits can be compared
    return bitwise_equal(got, want) ? "" : "differs bitwise from the reference";
  }
  double diff = 0, norm = 0;
  for (size_t i = 0; i < w->size(); ++i) {
    const double a = (*g)[i], b = (*w)[i];
    if (std::isnan(b)) {
      if (!std::isnan(a)) return fmt::format("element {} is {}, the reference has NaN", i, a);
      continue;
    }
    if (std::isinf(b)) {
      if (a != b) return fmt::format("element {} is {}, the reference has {}", i, a, b);
      continue;
    }
    if (!std::isfinite(a)) return fmt::format("element {} is {}, the reference has {}", i, a, b);
    diff += (a - b) * (a - b);
    norm += b * b;
  }
  const double err = std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
  if (err > tolerance) return fmt::format("normalized error {:.3g} > tolerance {:.3g}", err, tolerance);
  return "";
}

// --- the runner ------------------------------------------------------------------------------

struct BackendRun {
  Outcome outcome;
  std::shared_ptr<const EngineState> engine;
  NamedTensors outputs;
};

// Builds and runs the case on one backend. A kernel or build that says "unsupported" is that,
// anything else that fails is a failure.
BackendRun build_and_run(const Case& c, const CaseData& data, const Backend& backend) {
  BackendRun r;
  NamedTensors feeds;
  auto g = make_graph(c, data, &feeds);
  if (!g.ok()) {
    r.outcome = fail(g.status().message());
    return r;
  }
  BuilderConfig cfg;
  cfg.backend = backend.name();
  cfg.opt_level = 0;  // no folding: a one-node graph of constants must still run its kernel
  cfg.show_progress = false;
  cfg.allow_tf32 = false;  // float32 means float32 here: TF32 is a precision choice, like --fp16
  BuildInput bi;
  bi.graph = std::move(*g);
  bi.source_name = c.name;
  auto state = build_engine(std::move(bi), cfg);
  if (!state.ok()) {
    const Status& s = state.status();
    // The oracle must have a kernel for every op kiln knows; other backends may lack one.
    const bool missing_oracle_kernel = backend.name() == kOracle && s.message().find("has no kernel") != std::string::npos;
    r.outcome = s.code() == StatusCode::kUnsupported && !missing_oracle_kernel ? unsup("build: " + s.message())
                                                                                  : fail("build: " + s.message());
    return r;
  }
  r.engine = *state;
  Engine engine(r.engine);
  auto ctx = engine.create_execution_context();
  if (!ctx.ok()) {
    r.outcome = fail("context: " + ctx.status().message());
    return r;
  }
  if (Status s = (*ctx)->run(feeds, &r.outputs); !s.ok()) {
    r.outcome = s.code() == StatusCode::kUnsupported ? unsup("run: " + s.message()) : fail("run: " + s.message());
    return r;
  }
  // Determinism: a second run (the planned path) gives the same bits.
  NamedTensors again;
  if (Status s = (*ctx)->run(feeds, &again); !s.ok()) {
    r.outcome = fail("second run: " + s.message());
    return r;
  }
  for (const auto& [name, t] : r.outputs) {
    auto it = again.find(name);
    if (it == again.end() || !bitwise_equal(t, it->second)) {
      r.outcome = fail(fmt::format("output '{}' differs between two runs", name));
      return r;
    }
  }
  return r;
}

// Inference (build-time IoInfo and a re-inference at the concrete shapes) against the outputs.
std::string check_inference(const EngineState& e, const NamedTensors& feeds, const NamedTensors& outputs) {
  const Graph& g = *e.graph;
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Value* o = g.outputs()[i];
    auto it = outputs.find(o->name());
    if (it == outputs.end()) return fmt::format("output '{}' missing from the run's outputs", o->name());
    const Tensor& t = it->second;
    const IoInfo& io = e.outputs[i];
    if (io.dtype != t.dtype()) {
      return fmt::format("output '{}': inference says dtype {}, the kernel produced {}", o->name(), dtype_name(io.dtype), t.describe());
    }
    if (o->shape) {
      if (io.dims.size() != t.shape().size()) {
        return fmt::format("output '{}': inference says shape [{}], the kernel produced {}", o->name(), io.shape_string(), t.describe());
      }
      for (size_t d = 0; d < io.dims.size(); ++d) {
        if (io.dims[d] >= 0 && io.dims[d] != t.dim(static_cast<int64_t>(d))) {
          return fmt::format("output '{}': inference says shape [{}], the kernel produced {}", o->name(), io.shape_string(), t.describe());
        }
      }
    }
  }
  ValueStates states = initial_states(g);
  for (const Value* in : g.inputs()) {
    ValueState s;
    s.dtype = feeds.at(in->name()).dtype();
    s.shape = sym_shape(feeds.at(in->name()).shape());
    states[in] = std::move(s);
  }
  InferenceOptions opts;
  opts.evaluate = [](const Node& n, const std::vector<const Tensor*>& ins) { return evaluate_node(n, ins); };
  if (Status s = infer_graph(g, states, opts); !s.ok()) return "re-inference at concrete shapes: " + s.message();
  for (const Value* o : g.outputs()) {
    const ValueState& s = states[o];
    const Tensor& t = outputs.at(o->name());
    if (s.dtype != t.dtype()) {
      return fmt::format("output '{}': re-inference says dtype {}, the kernel produced {}", o->name(), dtype_name(s.dtype), t.describe());
    }
    if (!s.shape) continue;
    bool ok = s.shape->size() == t.shape().size();
    for (size_t d = 0; ok && d < s.shape->size(); ++d) {
      ok = !(*s.shape)[d].is_known() || (*s.shape)[d].value == t.dim(static_cast<int64_t>(d));
    }
    if (!ok) {
      return fmt::format("output '{}': re-inference says {}, the kernel produced {}", o->name(), shape_to_string(s.shape), t.describe());
    }
  }
  return "";
}

// The node run directly through a guarded context; its outputs must equal the engine's bits.
std::string check_guarded(const Case& c, const CaseData& data, const Backend& backend, const NamedTensors& engine_outputs) {
  NamedTensors feeds;
  auto g = make_graph(c, data, &feeds);
  if (!g.ok()) return g.status().message();
  if (Status s = infer_and_annotate(**g); !s.ok()) return "guarded run: inference: " + s.message();
  const Node& n = *(*g)->nodes()[0];
  std::vector<const Tensor*> ins;
  for (const Value* v : n.inputs()) {
    if (!v) ins.push_back(nullptr);
    else if (v->constant) ins.push_back(&*v->constant);
    else ins.push_back(&feeds.at(v->name()));
  }
  OuterLookup top = [&](const std::string& name) -> const Tensor* {
    if (auto it = feeds.find(name); it != feeds.end()) return &it->second;
    const Value* v = (*g)->find_value(name);
    return v && v->constant ? &*v->constant : nullptr;
  };
  std::vector<std::string> problems;
  auto outs = run_guarded(backend, n, ins, top, &problems);
  if (!problems.empty()) return "guarded run: " + problems.front();
  if (!outs.ok()) return "guarded run: " + outs.status().message();
  for (size_t i = 0; i < n.num_outputs(); ++i) {
    const Tensor& want = engine_outputs.at(output_name(i));
    if (!bitwise_equal((*outs)[i], want)) {
      return fmt::format("guarded run: output {} is {}, not bitwise the engine's {}", i, (*outs)[i].describe(), want.describe());
    }
  }
  return "";
}

std::vector<const Backend*> present_backends() {
  std::vector<const Backend*> out;
  for (const Backend* b : all_backends()) {
    if (b->available().ok()) out.push_back(b);
  }
  return out;
}

Outcome run_case(const Case& c) {
  auto data = make_data(c);
  if (!data.ok()) return fail("inputs: " + data.status().message());
  const Backend* oracle = find_backend(kOracle);
  if (!oracle) return fail("no reference backend");
  BackendRun ref = build_and_run(c, *data, *oracle);
  if (ref.outcome.verdict != Verdict::kPass) {
    ref.outcome.reason = std::string(kOracle) + " " + ref.outcome.reason;
    return ref.outcome;
  }
  NamedTensors feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if ((*data)[i] && !c.inputs[i].constant) feeds[input_name(i)] = *(*data)[i];
  }
  if (std::string e = check_inference(*ref.engine, feeds, ref.outputs); !e.empty()) return fail(e);
  if (std::string e = check_guarded(c, *data, *oracle, ref.outputs); !e.empty()) return fail(e);

  Outcome result;
  std::vector<std::string> unsupported_on;
  for (const Backend* b : present_backends()) {
    if (b == oracle) continue;
    BackendRun r = build_and_run(c, *data, *b);
    if (r.outcome.verdict == Verdict::kFail) return fail(b->name() + ": " + r.outcome.reason);
    if (r.outcome.verdict == Verdict::kUnsupported) {
      unsupported_on.push_back(b->name() + ": " + r.outcome.reason);
      continue;
    }
    for (size_t i = 0; i < c.num_outputs; ++i) {
      const std::string name = output_name(i);
      if (std::string e = compare(r.outputs.at(name), ref.outputs.at(name), c.tolerance); !e.empty()) {
        return fail(fmt::format("{}: output {} {}", b->name(), i, e));
      }
    }
    // The guarded context hands kernels host memory with guard bytes around it: device kernels
    // cannot run there (kiln_cuda_tests checks their guard bytes in device memory instead).
    if (b->device()) continue;
    if (std::string e = check_guarded(c, *data, *b, r.outputs); !e.empty()) return fail(b->name() + ": " + e);
  }
  if (!unsupported_on.empty()) return unsup(fmt::format("{}", fmt::join(unsupported_on, "; ")));
  return result;
}

// --- gtest glue ------------------------------------------------------------------------------

const std::vector<Case>& cases() {
  static const std::vector<Case> c = all_cases();
  return c;
}

std::string test_name(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

// Tallies for the summary line; printed when the process ends (ctest runs one case per process,
// `kiln_tests --gtest_filter='Harness*'` runs them all and prints the full line).
struct Tally {
  size_t passed = 0, failed = 0, unsupported = 0;
  std::vector<std::string> unsupported_list, failed_list;
};
Tally& tally() {
  static Tally t;
  return t;
}

class SummaryPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    const Tally& t = tally();
    const size_t total = t.passed + t.failed + t.unsupported;
    if (total == 0) return;
    std::string names;
    for (const Backend* b : present_backends()) names += (names.empty() ? "" : ", ") + b->name();
    for (const std::string& u : t.unsupported_list) std::printf("harness unsupported: %s\n", u.c_str());
    for (const std::string& f : t.failed_list) std::printf("harness FAILED: %s\n", f.c_str());
    std::printf("harness: %zu passed, %zu failed, %zu unsupported of %zu (backends: %s)\n", t.passed, t.failed, t.unsupported,
                total, names.c_str());
    // A backend compiled in but unusable here (the cuda backend without a GPU) is said, not hidden.
    for (const Backend* b : all_backends()) {
      if (Status s = b->available(); !s.ok()) std::printf("harness: backend '%s' skipped: %s\n", b->name().c_str(), s.message().c_str());
    }
  }
};
[[maybe_unused]] const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryPrinter);

// One test per op (its cases run in turn, each under its own SCOPED_TRACE): ctest lists every op
// without paying a process start per case, which would cost more than the cases themselves.
class Harness : public ::testing::TestWithParam<std::string> {};

TEST_P(Harness, Op) {
  size_t ran = 0;
  for (const Case& c : cases()) {
    if (c.op_type != GetParam()) continue;
    ++ran;
    SCOPED_TRACE(c.name);
    const Outcome o = run_case(c);
    switch (o.verdict) {
      case Verdict::kPass:
        ++tally().passed;
        break;
      case Verdict::kUnsupported:
        ++tally().unsupported;
        tally().unsupported_list.push_back(c.name + ": " + o.reason);
        // Not a pass and not hidden: the reason shows in the log and the summary.
        std::printf("unsupported: %s: %s\n", c.name.c_str(), o.reason.c_str());
        break;
      case Verdict::kFail:
        ++tally().failed;
        tally().failed_list.push_back(c.name + ": " + o.reason);
        ADD_FAILURE() << c.name << ": " << o.reason;
        break;
    }
  }
  EXPECT_GT(ran, 0u);
}

std::vector<std::string> case_ops() {
  std::vector<std::string> ops;
  std::set<std::string> seen;
  for (const Case& c : cases()) {
    if (seen.insert(c.op_type).second) ops.push_back(c.op_type);
  }
  return ops;
}

INSTANTIATE_TEST_SUITE_P(Ops, Harness, ::testing::ValuesIn(case_ops()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return test_name(info.param); });

// The case table itself: unique names (gtest and reports key on them), sane inputs, and every op
// family present.
TEST(HarnessTable, CasesAreWellFormed) {
  std::set<std::string> names;
  std::set<std::string> ops;
  for (const Case& c : cases()) {
    EXPECT_TRUE(names.insert(test_name(c.name)).second) << "duplicate case name " << c.name;
    EXPECT_FALSE(c.op_type.empty()) << c.name;
    EXPECT_GE(c.num_outputs, 1u) << c.name;
    EXPECT_GT(c.tolerance, 0) << c.name;
    for (const CaseInput& in : c.inputs) {
      if (in.omitted) continue;
      EXPECT_GE(element_count(in.dims), 0) << c.name;
      EXPECT_LE(element_count(in.dims), 1 << 16) << c.name << ": keep harness tensors small";
      if (in.fill == Fill::kValues) {
        EXPECT_FALSE(in.values.empty() && element_count(in.dims) > 0) << c.name;
      }
    }
    ops.insert(c.op_type);
  }
  EXPECT_GT(cases().size(), 100u);
  for (const char* op : {"Add", "Relu", "ReduceSum", "MatMul", "Conv", "MaxPool", "Reshape", "Gather", "If", "LSTM",
                         "FusedConv", "FusedMatMul", "FusedPointwise", "Attention", "RMSNormalization"}) {
    EXPECT_TRUE(ops.count(op)) << "no harness case for " << op;
  }
}

// The runner's own checks must be able to fail: a guard overwrite, an input write and a wrong
// value are each caught.
Status write_past_end(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DataType::kFloat32, {3}));
  static_cast<uint8_t*>(out->data())[out->nbytes()] = 0;  // one byte past the end, on purpose
  return ok_status();
}
Status write_before_start(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DataType::kFloat32, {3}));
  static_cast<uint8_t*>(out->data())[-1] = 0;
  return ok_status();
}
Status write_input(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DataType::kFloat32, {3}));
  const_cast<float*>(ctx.input(0)->data_as<float>())[1] = 42.0f;
  (void)out;
  return ok_status();
}
Status behave(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DataType::kFloat32, {3}));
  for (int i = 0; i < 3; ++i) out->data_as<float>()[i] = ctx.input(0)->data_as<float>()[i];
  return ok_status();
}

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(KernelFn fn) { table_.add("Identity", fn); }
  std::string name() const override { return "fake"; }
  std::string device_signature() const override { return "fake"; }
  Status available() const override { return ok_status(); }
  const KernelTable& kernels() const override { return table_; }

 private:
  KernelTable table_;
};

std::vector<std::string> guarded_problems(KernelFn fn) {
  Graph g;
  g.opset_imports[""] = 17;
  Value* x = g.add_value("x", DataType::kFloat32, sym_shape({3}));
  g.add_input(x);
  Value* y = g.add_value("y", DataType::kFloat32, sym_shape({3}));
  Node* n = g.add_node("Identity", {x}, {y}, "id");
  FakeBackend b(fn);
  auto in = Tensor::allocate(DataType::kFloat32, {3});
  EXPECT_TRUE(in.ok());
  std::vector<std::string> problems;
  auto outs = run_guarded(b, *n, {&*in}, nullptr, &problems);
  EXPECT_TRUE(outs.ok()) << outs.status().message();
  EXPECT_EQ(in->data_as<float>()[1], 0.0f) << "the original input must never be handed to the kernel";
  return problems;
}

TEST(HarnessRunner, GuardsCatchBadKernels) {
  EXPECT_TRUE(guarded_problems(behave).empty());
  auto p = guarded_problems(write_past_end);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("up to 1 bytes past the end"), std::string::npos) << p[0];
  p = guarded_problems(write_before_start);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("before the start"), std::string::npos) << p[0];
  p = guarded_problems(write_input);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("changed input 0"), std::string::npos) << p[0];
}

TEST(HarnessRunner, CompareFollowsNanInfRules) {
  auto make = [](std::vector<float> v) {
    auto t = Tensor::allocate(DataType::kFloat32, {static_cast<int64_t>(v.size())});
    EXPECT_TRUE(t.ok());
    std::memcpy(t->data(), v.data(), v.size() * 4);
    return *t;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(compare(make({1, nan, inf}), make({1, nan, inf}), 1e-6), "");
  EXPECT_NE(compare(make({1, 0, inf}), make({1, nan, inf}), 1e-6), "");     // NaN where the reference has NaN
  EXPECT_NE(compare(make({1, nan, -inf}), make({1, nan, inf}), 1e-6), "");  // same Inf
  EXPECT_NE(compare(make({1, nan, inf}), make({1, 2, inf}), 1e-6), "");     // no NaN where it has a number
  EXPECT_EQ(compare(make({1.000001f, 2}), make({1, 2}), 1e-5), "");
  EXPECT_NE(compare(make({1.1f, 2}), make({1, 2}), 1e-5), "");
  EXPECT_NE(compare(make({1, 2}), make({1, 2, 3}), 1), "");  // shape
  EXPECT_EQ(compare(make({0, 0}), make({0, 0}), 1e-9), "");
  EXPECT_NE(compare(make({1e-20f, 0}), make({0, 0}), 1e-9), "");  // ||b|| = 0: any difference counts
}

// A case of an op kiln does not know is a failure, not "unsupported".
TEST(HarnessRunner, MissingOpIsAFailure) {
  Case c;
  c.name = "NoSuchOp_f32";
  c.op_type = "NoSuchOp";
  c.inputs = {CaseInput{DataType::kFloat32, {2}, Fill::kRandom, {}, false, false}};
  const Outcome o = run_case(c);
  EXPECT_EQ(o.verdict, Verdict::kFail);
  EXPECT_NE(o.reason.find("NoSuchOp"), std::string::npos) << o.reason;
}

}  // namespace
}  // namespace kiln::harness
