// Engine: the immutable, shareable result of a build or a load.
#include <algorithm>
#include <fstream>

#include "backends/backend.h"
#include "core/guard.h"
#include "engine/engine_file.h"
#include "engine/layer_detail.h"
#include "fmt/format.h"
#include "ir/inference.h"
#include "kiln/kiln.h"
#include "runtime/engine_state.h"

namespace kiln {

const char* version() { return KILN_VERSION; }

std::string IoInfo::shape_string() const {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += dims[i] >= 0 ? std::to_string(dims[i]) : (symbols[i].empty() ? "?" : symbols[i]);
  }
  return s.empty() ? "scalar" : s;
}

namespace {

IoInfo io_info(const Value& v) {
  IoInfo io;
  io.name = v.name();
  io.dtype = v.dtype;
  if (v.shape) {
    for (const Dim& d : *v.shape) {
      io.dims.push_back(d.is_known() ? d.value : -1);
      io.symbols.push_back(d.is_known() ? "" : d.symbol);
    }
  }
  return io;
}

Status create_kernels(const Graph& g, const std::string& default_backend, EngineState& e) {
  for (const auto& np : g.nodes()) {
    const Node& n = *np;
    const std::string bname = n.backend.empty() ? default_backend : n.backend;
    const Backend* b = find_backend(bname);
    if (!b) return incompatible(fmt::format("{}: backend '{}' is not in this build", n.describe(), bname));
    const KernelEntry* k = b->kernels().find(n);
    if (!k) return unsupported(fmt::format("{}: backend '{}' has no kernel for {} (opset {})", n.describe(), bname, n.op_type, n.opset));
    KILN_ASSIGN_OR_RETURN(auto kernel, k->create(n));
    e.kernels[&n] = std::move(kernel);
    for (const auto& [an, a] : n.attrs.all()) {
      if (a.g) KILN_RETURN_IF_ERROR(create_kernels(*a.g, bname, e));
      for (const auto& sg : a.graphs) KILN_RETURN_IF_ERROR(create_kernels(*sg, bname, e));
    }
  }
  return ok_status();
}

// The nodes of a device backend, and device copies of the constants they read in device memory.
Status place_on_device(EngineState& e) {
  const Backend* b = find_backend(e.meta.backend);
  e.device = b ? b->device() : nullptr;
  if (!e.device) return ok_status();
  for (const auto& np : e.graph->nodes()) {
    const Node& n = *np;
    if (n.backend != b->name()) continue;
    e.on_device.insert(&n);
    const KernelEntry* k = b->kernels().find(n);
    const std::vector<size_t> host = k ? k->host_inputs : std::vector<size_t>{};
    if (!host.empty()) e.host_inputs[&n] = host;
    if (k && !k->host_outputs.empty()) e.host_outputs[&n] = k->host_outputs;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      const Value* v = n.input(i);
      if (!v || !v->constant || e.device_constants.count(v) || std::find(host.begin(), host.end(), i) != host.end()) continue;
      const Tensor& t = *v->constant;
      KILN_ASSIGN_OR_RETURN(void* p, e.device->allocate(std::max<size_t>(t.nbytes(), 1)));
      const Device* d = e.device;
      std::shared_ptr<void> owner(p, [d](void* q) { d->free(q); });
      if (t.nbytes()) KILN_RETURN_IF_ERROR(e.device->copy_to_device(p, t.data(), t.nbytes(), nullptr));
      e.device_constants[v] = Tensor::wrap(t.dtype(), t.shape(), p, owner);
    }
  }
  return e.device->synchronize(nullptr);
}

}  // namespace

Result<std::shared_ptr<EngineState>> make_engine_state(std::shared_ptr<Graph> graph, EngineMeta meta,
                                                       std::shared_ptr<const void> storage) {
  auto e = std::make_shared<EngineState>();
  e->graph = std::move(graph);
  e->meta = std::move(meta);
  e->storage = std::move(storage);
  for (const Value* v : e->graph->inputs()) {
    if (!v->shape) return unsupported(fmt::format("input '{}' has unknown rank; give its shape", v->name()));
    e->inputs.push_back(io_info(*v));
  }
  for (const Value* v : e->graph->outputs()) e->outputs.push_back(io_info(*v));
  size_t i = 0;
  for (const auto& v : e->graph->values()) e->value_index[v.get()] = i++;
  KILN_RETURN_IF_ERROR(create_kernels(*e->graph, e->meta.backend, *e));
  KILN_RETURN_IF_ERROR(place_on_device(*e));
  return e;
}

Engine::Engine(std::shared_ptr<const EngineState> state) : state_(std::move(state)) {}

Result<Engine> Engine::load(const std::string& path) {
  return guard(path, [&]() -> Result<Engine> {
    KILN_ASSIGN_OR_RETURN(auto s, load_engine_file(path));
    return Engine(std::move(s));
  });
}

Result<Engine> Engine::load_from_memory(const std::string& bytes) {
  // Weights must stay aligned and alive: keep an aligned copy owned by the engine.
  void* p = std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64 + 64);
  if (!p) return out_of_memory("cannot allocate engine buffer");
  std::memcpy(p, bytes.data(), bytes.size());
  std::shared_ptr<const void> storage(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  return guard("engine (in memory)", [&]() -> Result<Engine> {
    KILN_ASSIGN_OR_RETURN(auto s, deserialize_engine(p, bytes.size(), storage, "engine (in memory)"));
    return Engine(std::move(s));
  });
}

Result<std::string> Engine::serialize() const { return serialize_engine(*state_); }

Status Engine::save(const std::string& path) const {
  KILN_ASSIGN_OR_RETURN(std::string bytes, serialize());
  // Write to a temporary name first so a failed write never leaves a half file under `path`.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return io_error(fmt::format("cannot write '{}'", path));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return io_error(fmt::format("cannot write '{}' (disk full?)", path));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return io_error(fmt::format("cannot write '{}'", path));
  }
  return ok_status();
}

const std::vector<IoInfo>& Engine::inputs() const { return state_->inputs; }
const std::vector<IoInfo>& Engine::outputs() const { return state_->outputs; }

EngineInfo Engine::info() const {
  const EngineState& e = *state_;
  EngineInfo info;
  info.format_version = kEngineFormatVersion;
  info.producer = e.meta.producer;
  info.backend = e.meta.backend;
  info.device = e.meta.device;
  info.source_sha256 = e.meta.source_sha256;
  info.source_name = e.meta.source_name;
  info.build_options = e.meta.build_options;
  info.inputs = e.inputs;
  info.outputs = e.outputs;
  info.onnx_nodes = e.meta.onnx_nodes;
  for (const auto& v : e.graph->values()) {
    if (v->constant) info.weights_bytes += v->constant->nbytes();
  }
  for (const auto& np : e.graph->nodes()) {
    const Node& n = *np;
    for (const auto& [name, a] : n.backend_data.all()) {
      if (a.kind == Attribute::Kind::kTensor) info.packed_weights_bytes += a.t.nbytes();
    }
    LayerInfo l;
    l.name = n.name;
    l.op = layer_op_name(n);
    l.detail = layer_detail(n);
    l.backend = n.backend.empty() ? e.meta.backend : n.backend;
    l.kernel = n.kernel;
    l.precision = n.precision;
    l.tuning = n.backend_data.get_string(kTuningChoiceKey, "");
    l.fused_from = n.fused_from;
    for (const Value* v : n.inputs()) {
      l.inputs.push_back(v ? v->name() : "");
      l.input_types.push_back(v ? v->type_string() : "");
      l.input_is_weight.push_back(v && v->is_constant());
    }
    for (const Value* v : n.outputs()) {
      l.outputs.push_back(v ? v->name() : "");
      l.output_types.push_back(v ? v->type_string() : "");
    }
    info.layers.push_back(std::move(l));
  }
  info.profiles = e.meta.profiles;
  // Arena size at the fixed shapes (or the first profile's opt shapes), from a planning dry run.
  std::map<std::string, Dims> shapes;
  bool all_known = true;
  for (const IoInfo& io : e.inputs) {
    Dims d = io.dims;
    for (const InputRange& r : e.meta.profiles.empty() ? std::vector<InputRange>{} : e.meta.profiles[0]) {
      if (r.input == io.name && r.opt.size() == d.size()) d = r.opt;
    }
    for (int64_t x : d) all_known &= x >= 0;
    shapes[io.name] = d;
  }
  if (all_known) {
    auto bytes = planned_arena_bytes(state_, shapes);
    if (bytes.ok()) info.activation_bytes = *bytes;
  }
  return info;
}

std::vector<BackendAvailability> available_backends() {
  std::vector<BackendAvailability> out;
  for (const Backend* b : all_backends()) {
    Status s = b->available();
    out.push_back({b->name(), s.ok(), s.ok() ? "" : s.message()});
  }
  return out;
}

}  // namespace kiln
