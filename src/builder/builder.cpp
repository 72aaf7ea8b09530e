#include "builder/builder.h"

#include <cstdio>
#include <filesystem>

#include "builder/device_copies.h"
#include "builder/precision.h"

#include "backends/backend.h"
#include "backends/timing_cache.h"
#include "core/guard.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "fmt/format.h"
#include "ir/inference.h"
#include "onnx/importer.h"

namespace kiln {

namespace {

// Elements up to which inference computes constant values while building.
constexpr int64_t kInferFoldLimit = 1 << 20;

// Inference evaluates nodes whose inputs are known and small (shape arithmetic), not big constants.
Result<std::optional<std::vector<Tensor>>> evaluate_small(const Node& n, const std::vector<const Tensor*>& ins) {
  int64_t total = 0;
  for (const Tensor* t : ins) total += t ? t->numel() : 0;
  if (total > kInferFoldLimit) return std::optional<std::vector<Tensor>>();
  return evaluate_node(n, ins);
}

// Picks each node's kernel and, when a lower precision is requested, whether that kernel
// computes the node in it (the cpu backend's bf16 products on float32 tensors; "tf32": float32
// products on TF32 tensor cores, allowed unless --no-tf32).
Status choose_kernels(Graph& g, const Backend& backend, const BuilderConfig& config, Progress* progress, bool in_subgraph = false) {
  size_t done = 0;
  // Subgraph bodies run in host memory (the interpreter of If/Loop/Scan bodies allocates there):
  // a device backend's nodes inside them take its host fallbacks.
  const bool host_only = backend.device() && in_subgraph;
  for (const auto& np : g.nodes()) {
    Node& n = *np;
    const KernelEntry* k = backend.kernels().find(n, host_only);
    if (!k) {
      return unsupported(fmt::format("{}: backend '{}' has no kernel for {} (opset {})", n.describe(), backend.name(), n.op_type, n.opset));
    }
    n.backend = k->backend.empty() ? backend.name() : k->backend;
    n.kernel = k->name;
    n.precision.clear();
    if (k->computes_in) {
      if (config.precision != "fp32" && k->computes_in(n, config.precision)) n.precision = config.precision;
      else if (config.allow_tf32 && k->computes_in(n, "tf32")) n.precision = "tf32";
    }
    for (const auto& [an, a] : n.attrs.all()) {
      if (a.g) KILN_RETURN_IF_ERROR(choose_kernels(*a.g, backend, config, nullptr, true));
      for (const auto& sg : a.graphs) KILN_RETURN_IF_ERROR(choose_kernels(*sg, backend, config, nullptr, true));
    }
    if (progress) progress->update(2, fmt::format("lowering: layer {}/{}", ++done, g.nodes().size()));
  }
  return ok_status();
}

// Lets each node's kernel derive its build-time data (packed weights) once its precision is final.
// The kernel is looked up the way a loaded engine creates it (the node's backend's first entry
// that supports it).
// `profiles`: every profile's build shapes (KernelEntry::pack); `build` carries the tuning
// kernels' timing cache, progress line and tally.
Status pack_kernels(Graph& g, const std::vector<BuildShapes>& profiles, BuildContext& build, Progress* progress) {
  size_t done = 0;
  for (const auto& np : g.nodes()) {
    Node& n = *np;
    const Backend* b = find_backend(n.backend);
    const KernelEntry* k = b ? b->kernels().find(n) : nullptr;
    if (k && k->pack) {
      build.layer = done + 1;
      build.layers = g.nodes().size();
      KILN_ASSIGN_OR_RETURN(n.backend_data, k->pack(n, profiles, build));
    }
    for (const auto& [an, a] : n.attrs.all()) {
      if (a.g) KILN_RETURN_IF_ERROR(pack_kernels(*a.g, profiles, build, nullptr));
      for (const auto& sg : a.graphs) KILN_RETURN_IF_ERROR(pack_kernels(*sg, profiles, build, nullptr));
    }
    if (progress) progress->update(2, fmt::format("packing weights: layer {}/{}", ++done, g.nodes().size()));
  }
  return ok_status();
}

// Every top-level value's shape at the profile's opt shapes (dims no profile names: 1), for the
// kernels' build-time packing; empty when these shapes cannot be inferred (data-dependent sizes).
BuildShapes build_shapes(const Graph& g, const std::vector<InputRange>& profile) {
  ValueStates states = initial_states(g);
  for (const Value* in : g.inputs()) {
    if (!in->shape) return {};
    Dims d;
    for (const Dim& x : *in->shape) d.push_back(x.is_known() ? x.value : 1);
    for (const InputRange& r : profile) {
      if (r.input == in->name() && r.opt.size() == d.size()) d = r.opt;
    }
    states[in].shape = sym_shape(d);
  }
  InferenceOptions opts;
  opts.evaluate = evaluate_small;
  if (!infer_graph(g, states, opts).ok()) return {};
  BuildShapes out;
  for (const auto& [v, st] : states) {
    if (!st.shape) continue;
    Dims d;
    bool known = true;
    for (const Dim& x : *st.shape) {
      known &= x.is_known();
      d.push_back(x.value);
    }
    if (known) out[v] = std::move(d);
  }
  return out;
}

// Checks every profile against the model and sets the inputs' shapes: a dim becomes fixed only
// where every profile pins it (min == max) to the same size; the others stay symbolic.
Status apply_profiles(Graph& g, const std::vector<std::vector<InputRange>>& profiles) {
  // Errors name the profile by index only when there are several.
  auto what = [&profiles](size_t p, const std::string& input) {
    return profiles.size() > 1 ? fmt::format("shape profile {} for '{}'", p, input) : fmt::format("shape profile for '{}'", input);
  };
  for (size_t p = 0; p < profiles.size(); ++p) {
    for (const InputRange& r : profiles[p]) {
      Value* v = g.find_value(r.input);
      if (!v || !v->is_graph_input()) {
        std::string names;
        for (const Value* in : g.inputs()) names += (names.empty() ? "" : ", ") + in->name();
        return invalid_argument(fmt::format("shape profile{} names input '{}', which the model does not have (inputs: {})",
                                            profiles.size() > 1 ? fmt::format(" {}", p) : "", r.input, names));
      }
      const size_t rank = r.opt.size();
      if (r.min.size() != rank || r.max.size() != rank) {
        return invalid_argument(fmt::format("{}: min, opt and max must have the same rank", what(p, r.input)));
      }
      if (v->shape && v->shape->size() != rank) {
        return invalid_argument(fmt::format("{} has rank {}, the input has rank {}", what(p, r.input), rank, v->shape->size()));
      }
      size_t named = 0;
      for (const InputRange& other : profiles[p]) named += other.input == r.input;
      if (named > 1) return invalid_argument(fmt::format("{}: the input is named {} times in one profile", what(p, r.input), named));
      for (size_t d = 0; d < rank; ++d) {
        if (r.min[d] < 0 || r.min[d] > r.opt[d] || r.opt[d] > r.max[d]) {
          return invalid_argument(fmt::format("{} dim {}: need 0 <= min <= opt <= max, got {} {} {}", what(p, r.input), d, r.min[d],
                                              r.opt[d], r.max[d]));
        }
        if (v->shape && (*v->shape)[d].is_known() && ((*v->shape)[d].value < r.min[d] || (*v->shape)[d].value > r.max[d])) {
          return invalid_argument(fmt::format("{} dim {} excludes the model's fixed size {}", what(p, r.input), d, (*v->shape)[d].value));
        }
      }
    }
  }
  if (profiles.empty()) return ok_status();
  // Every profile ranges over the same inputs with the same ranks, so that a run's shapes can be
  // matched against each profile as a whole.
  for (size_t p = 1; p < profiles.size(); ++p) {
    for (const InputRange& r0 : profiles[0]) {
      const InputRange* r = nullptr;
      for (const InputRange& x : profiles[p]) {
        if (x.input == r0.input) r = &x;
      }
      if (!r) {
        return invalid_argument(fmt::format("shape profile {} gives no range for input '{}', which profile 0 does (every profile names the same inputs)", p, r0.input));
      }
      if (r->opt.size() != r0.opt.size()) {
        return invalid_argument(fmt::format("shape profile {} for '{}' has rank {}, profile 0 has rank {}", p, r0.input, r->opt.size(), r0.opt.size()));
      }
    }
    if (profiles[p].size() != profiles[0].size()) {
      for (const InputRange& r : profiles[p]) {
        bool in_first = false;
        for (const InputRange& r0 : profiles[0]) in_first |= r0.input == r.input;
        if (!in_first) {
          return invalid_argument(fmt::format("shape profile {} gives a range for input '{}', which profile 0 does not (every profile names the same inputs)", p, r.input));
        }
      }
    }
  }
  for (const InputRange& r0 : profiles[0]) {
    Value* v = g.find_value(r0.input);
    const size_t rank = r0.opt.size();
    SymShape s = v->shape ? *v->shape : SymShape(rank, Dim::unknown());
    for (size_t d = 0; d < rank; ++d) {
      bool pinned = true;
      for (const auto& profile : profiles) {
        for (const InputRange& r : profile) {
          if (r.input == r0.input) pinned &= r.min[d] == r.max[d] && r.min[d] == r0.min[d];
        }
      }
      if (pinned) s[d] = Dim::known(r0.min[d]);
      else if (!s[d].is_known() && s[d].symbol.empty()) s[d] = Dim::sym(fmt::format("{}_{}", r0.input, d));
    }
    v->shape = s;
  }
  return ok_status();
}

}  // namespace

Status infer_and_annotate(Graph& g) {
  ValueStates states = initial_states(g);
  InferenceOptions opts;
  opts.name_unknown_dims = true;
  opts.evaluate = evaluate_small;
  KILN_RETURN_IF_ERROR(infer_graph(g, states, opts));
  apply_states(g, states);
  return ok_status();
}

Result<std::shared_ptr<EngineState>> build_engine(BuildInput input, const BuilderConfig& config, const std::string& dump_after,
                                                  const std::function<void(const std::string&)>& dump) {
  const Backend* backend = find_backend(config.backend);
  if (!backend) {
    std::string names;
    for (const Backend* b : all_backends()) names += (names.empty() ? "" : ", ") + b->name();
    return invalid_argument(fmt::format("unknown backend '{}' (this build has: {})", config.backend, names));
  }
  if (Status s = backend->available(); !s.ok()) {
    return unsupported(fmt::format("backend '{}' cannot run here: {}", config.backend, s.message()));
  }
  if (config.precision != "fp32" && config.precision != "fp16" && config.precision != "bf16") {
    return invalid_argument(fmt::format("unknown precision '{}' (fp32, fp16 or bf16)", config.precision));
  }
  // Refused rather than ignored: an engine labelled bf16 must compute in bf16 where it can.
  KILN_RETURN_IF_ERROR(backend->check_precision(config.precision));
  // Read first: a file that is not a timing cache is refused before the (long) build.
  TimingCache cache;
  if (!config.timing_cache.empty()) {
    KILN_ASSIGN_OR_RETURN(cache, TimingCache::open(config.timing_cache));
  }
  Graph& g = *input.graph;
  Progress progress("building", 4, config.show_progress);
  if (!config.profile.empty() && !config.profiles.empty()) {
    return invalid_argument("BuilderConfig sets both `profile` and `profiles`: give every profile in `profiles`");
  }
  const std::vector<std::vector<InputRange>> profiles = config.all_profiles();
  KILN_RETURN_IF_ERROR(apply_profiles(g, profiles));
  progress.update(0, "inferring shapes");
  KILN_RETURN_IF_ERROR(infer_and_annotate(g));
  progress.update(1, "optimizing");
  PassOptions po;
  po.opt_level = config.opt_level;
  po.channels_last_convs = backend->prefers_channels_last();
  po.disabled = config.disabled_passes;
  po.dump_after = dump_after;
  po.dump = dump;
  KILN_RETURN_IF_ERROR(run_passes(g, po));
  KILN_RETURN_IF_ERROR(infer_and_annotate(g));
  progress.update(2, "lowering");
  KILN_RETURN_IF_ERROR(choose_kernels(g, *backend, config, &progress));
  KILN_RETURN_IF_ERROR(apply_device_precision(g, *backend, config.precision));
  BuildContext build;
  build.tune = config.tune_kernels;
  build.timing_cache = &cache;
  build.progress = &progress;
  // Weights are packed for the first profile's opt shapes only (one packing per weight keeps the
  // engine's size); the tuning kernels choose at every profile's opt shapes, so that a run at any
  // of them replays a tuned choice (other shapes take the libraries' heuristics).
  std::vector<BuildShapes> profile_shapes;
  if (profiles.empty()) profile_shapes.push_back(build_shapes(g, {}));
  for (const auto& p : profiles) profile_shapes.push_back(build_shapes(g, p));
  KILN_RETURN_IF_ERROR(pack_kernels(g, profile_shapes, build, &progress));
  KILN_RETURN_IF_ERROR(cache.save());
  KILN_RETURN_IF_ERROR(insert_device_copies(g, *backend));
  progress.update(3, "creating kernels");
  EngineMeta meta;
  meta.producer = fmt::format("kiln {}", version());
  meta.backend = backend->name();
  meta.device = backend->device_signature();
  meta.source_name = input.source_name;
  meta.source_sha256 = input.source_sha256;
  meta.onnx_nodes = input.onnx_nodes;
  meta.profiles = profiles;
  meta.build_options = {{"precision", config.precision}, {"opt_level", std::to_string(config.opt_level)}};
  if (!config.allow_tf32) meta.build_options["tf32"] = "off";
  if (!config.disabled_passes.empty()) meta.build_options["disabled_passes"] = fmt::format("{}", fmt::join(config.disabled_passes, ","));
  auto state = make_engine_state(std::move(input.graph), meta, nullptr);
  progress.update(4);
  progress.finish();
  // One line, also in logs (where the progress line is silent): tuning is most of a build's time.
  if (config.show_progress && build.tuned_layers > 0) {
    std::fprintf(stderr, "%s\n", build.summary().c_str());
  }
  return state;
}

std::vector<std::vector<InputRange>> BuilderConfig::all_profiles() const {
  if (!profiles.empty()) return profiles;
  if (!profile.empty()) return {profile};
  return {};
}

Builder::Builder(BuilderConfig config) : config_(std::move(config)) {}

Result<Engine> Builder::build_from_bytes(const std::string& onnx_bytes, const std::string& name) const {
  return guard(name, [&]() -> Result<Engine> { return build_unguarded(onnx_bytes, name); });
}

Result<Engine> Builder::build_unguarded(const std::string& onnx_bytes, const std::string& name) const {
  const std::string dir = std::filesystem::path(name).parent_path().string();
  KILN_ASSIGN_OR_RETURN(ImportedModel m, import_onnx_bytes(onnx_bytes, name, dir));
  BuildInput in;
  in.graph = std::move(m.graph);
  in.source_name = std::filesystem::path(name).filename().string();
  in.source_sha256 = sha256_hex(onnx_bytes);
  in.onnx_nodes = m.onnx_nodes;
  KILN_ASSIGN_OR_RETURN(auto state, build_engine(std::move(in), config_));
  return Engine(std::move(state));
}

Result<Engine> Builder::build_from_file(const std::string& onnx_path) const {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_path));
  // External data resolves against the model's directory, "." for a bare file name.
  const bool bare = std::filesystem::path(onnx_path).parent_path().empty();
  return build_from_bytes(bytes, bare ? "./" + onnx_path : onnx_path);
}

}  // namespace kiln
