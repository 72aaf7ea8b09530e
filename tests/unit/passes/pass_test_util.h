// The pass tests' harness: a graph is built twice by the same function; one copy is left as it
// is, the other goes through the passes under test (with the graph verified after each). Both
// run on the reference backend with the same random inputs, so a test checks the structure the
// passes left (which ops remain) and that outputs agree with the unoptimized graph.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "builder/builder.h"
#include "gtest/gtest.h"
#include "passes/pass.h"
#include "unit/test_util.h"

namespace kiln::test {

struct PassRun {
  std::vector<std::string> ops;                 // op types left, in order ("kiln.FusedConv")
  std::vector<std::vector<std::string>> fused;  // each node's fused_from
  std::vector<std::vector<std::string>> inputs; // each node's input value names
  double max_error = 0;                         // max |optimized - reference| / max |reference|
  std::string error;                            // set when something failed
  size_t count(const std::string& op) const { return static_cast<size_t>(std::count(ops.begin(), ops.end(), op)); }
};

using GraphMaker = std::function<std::unique_ptr<Graph>()>;

// Builds test graphs tersely: b.op("Add", {x, y}) returns the new node's output.
class TestGraph {
 public:
  explicit TestGraph(int opset = 17) : g(new_graph(opset)) {}
  std::unique_ptr<Graph> g;
  Node* last = nullptr;

  Value* input(const std::string& name, SymShape shape, DataType t = DataType::kFloat32) {
    return test::input(*g, name, t, std::move(shape));
  }
  Value* constant(const std::string& name, Tensor t) { return g->add_constant(g->unique_name(name), std::move(t)); }
  Value* scalar(float v) { return constant("c", f32({}, {v})); }
  Value* ints(const std::vector<int64_t>& v) { return constant("i", i64({static_cast<int64_t>(v.size())}, v)); }
  // A constant of uniform random values in [lo, hi).
  Value* random(const std::string& name, Dims dims, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> u(lo, hi);
    Tensor t = f32(dims, {});
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = u(rng_);
    return constant(name, t);
  }
  Value* op(const std::string& type, std::vector<Value*> ins, const std::function<void(Attributes&)>& attrs = {},
            int opset = 0) {
    return ops(type, std::move(ins), 1, attrs, opset)[0];
  }
  std::vector<Value*> ops(const std::string& type, std::vector<Value*> ins, size_t n_out,
                          const std::function<void(Attributes&)>& attrs = {}, int opset = 0) {
    std::vector<Value*> outs;
    for (size_t i = 0; i < n_out; ++i) outs.push_back(g->add_value(g->unique_name(type + "_out")));
    last = test::op(*g, type, std::move(ins), outs);
    if (opset) {
      last->opset = opset;
      last->schema = OpRegistry::global().find("", type, opset);
    }
    if (attrs) attrs(last->attrs);
    return outs;
  }
  void output(Value* v) { g->add_output(v); }
  std::unique_ptr<Graph> take() { return std::move(g); }

 private:
  std::mt19937 rng_{42};
};

// Random inputs for a graph's inputs; symbolic dims take `sym` sizes (default 3).
inline NamedTensors random_feeds(const Graph& g, uint32_t seed, const std::map<std::string, int64_t>& sym = {}) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  NamedTensors feeds;
  for (const Value* v : g.inputs()) {
    Dims dims;
    for (const Dim& d : *v->shape) dims.push_back(d.is_known() ? d.value : (sym.count(d.symbol) ? sym.at(d.symbol) : 3));
    Tensor t = *Tensor::allocate(v->dtype, dims);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (v->dtype == DataType::kFloat32) t.data_as<float>()[i] = u(rng);
      else if (v->dtype == DataType::kInt64) t.data_as<int64_t>()[i] = static_cast<int64_t>(rng() % 2);
      else if (v->dtype == DataType::kBool) t.data_as<bool>()[i] = rng() % 2;
    }
    feeds.emplace(v->name(), t);
  }
  return feeds;
}

inline Result<NamedTensors> run_engine(Engine& e, const NamedTensors& feeds) {
  KILN_ASSIGN_OR_RETURN(auto ctx, e.create_execution_context());
  NamedTensors outs;
  KILN_RETURN_IF_ERROR(ctx->run(feeds, &outs));
  return outs;
}

// Infers g as the builder does, then runs only `passes` (plus dead-code elimination) at
// --opt-level 3 with the graph verified after each pass.
// `channels_last_convs`: as for a backend that prefers channels-last convolutions (cpu).
inline Status optimize_with_only(Graph& g, const std::vector<std::string>& passes, bool channels_last_convs = false) {
  if (Status s = infer_and_annotate(g); !s.ok()) return invalid_argument("inference: " + s.message());
  PassOptions po;
  po.opt_level = 3;
  po.verify = true;
  po.channels_last_convs = channels_last_convs;
  for (const std::string& n : pass_names()) {
    if (n != "eliminate-dead-code" && std::find(passes.begin(), passes.end(), n) == passes.end()) po.disabled.push_back(n);
  }
  if (Status s = run_passes(g, po); !s.ok()) return invalid_argument("passes: " + s.message());
  return ok_status();
}

// Runs only `passes` (plus dead-code elimination) at --opt-level 3 on one copy of make()'s graph.
inline PassRun run_passes_on(const GraphMaker& make, const std::vector<std::string>& passes,
                             const std::map<std::string, int64_t>& sym = {}, bool channels_last_convs = false) {
  PassRun r;
  auto reference_graph = make();
  const NamedTensors feeds = random_feeds(*reference_graph, 7, sym);
  BuilderConfig plain = quiet_config();
  plain.opt_level = 0;
  auto reference = build(std::move(reference_graph), plain);
  if (!reference.ok()) {
    r.error = "unoptimized build: " + reference.status().message();
    return r;
  }
  auto g = make();
  if (Status s = optimize_with_only(*g, passes, channels_last_convs); !s.ok()) {
    r.error = s.message();
    return r;
  }
  for (const auto& n : g->nodes()) {
    r.ops.push_back(n->domain.empty() ? n->op_type : n->domain + "." + n->op_type);
    r.fused.push_back(n->fused_from);
    r.inputs.emplace_back();
    for (const Value* v : n->inputs()) r.inputs.back().push_back(v ? v->name() : "");
  }
  auto optimized = build(std::move(g), plain);
  if (!optimized.ok()) {
    r.error = "optimized build: " + optimized.status().message();
    return r;
  }
  auto want = run_engine(*reference, feeds);
  auto got = run_engine(*optimized, feeds);
  if (!want.ok() || !got.ok()) {
    r.error = "run: " + (!want.ok() ? want.status().message() : got.status().message());
    return r;
  }
  for (const auto& [name, a] : *want) {
    auto found = got->find(name);
    if (found == got->end()) {
      r.error = "output " + name + " is missing after the passes";
      return r;
    }
    const Tensor& b = found->second;
    if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
      r.error = "output " + name + " changed shape or dtype";
      return r;
    }
    if (!dtype_is_float(a.dtype())) {  // ints and bools (sizes, indices) must not change at all
      if (!same_bits(a, b)) {
        r.error = "output " + name + " changed";
        return r;
      }
      continue;
    }
    if (a.dtype() != DataType::kFloat32) continue;  // other float types: their own tests compare
    double scale = 0, diff = 0;
    for (int64_t k = 0; k < a.numel(); ++k) {
      scale = std::max(scale, std::abs(static_cast<double>(a.data_as<float>()[k])));
      diff = std::max(diff, std::abs(static_cast<double>(a.data_as<float>()[k]) - b.data_as<float>()[k]));
      if (std::isnan(a.data_as<float>()[k]) != std::isnan(b.data_as<float>()[k])) diff = INFINITY;
    }
    r.max_error = std::max(r.max_error, scale > 0 ? diff / scale : diff);
  }
  return r;
}

// Expects the run to succeed with outputs within `tol` of the unoptimized graph's.
#define EXPECT_PASS_RUN_OK(r, tol)                                \
  do {                                                            \
    ASSERT_TRUE((r).error.empty()) << (r).error;                  \
    EXPECT_LE((r).max_error, (tol)) << "optimized outputs differ"; \
  } while (0)

}  // namespace kiln::test
