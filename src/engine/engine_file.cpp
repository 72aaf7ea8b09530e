#include "engine/engine_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>

#include "backends/backend.h"
#include "fmt/format.h"
#include "ir/op_schema.h"
#include "nlohmann/json.hpp"

namespace kiln {

namespace {

using json = nlohmann::json;

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'E', 'N', 'G', '\0'};
constexpr size_t kPreambleSize = 80;
constexpr size_t kBlobAlign = 64;
constexpr int kMaxSubgraphDepth = 64;

struct Preamble {
  char magic[8];
  uint32_t format_version;
  uint32_t preamble_size;
  uint64_t header_offset, header_size;
  uint64_t graph_offset, graph_size;
  uint64_t blob_offset, blob_size;
  uint64_t checksum;
  uint64_t reserved;
};
static_assert(sizeof(Preamble) == kPreambleSize);

// --- writing -------------------------------------------------------------------------------

class BlobWriter {
 public:
  json add(const Tensor& t) {
    const size_t off = (blob_.size() + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    blob_.resize(off + t.nbytes(), '\0');
    if (t.nbytes()) std::memcpy(blob_.data() + off, t.data(), t.nbytes());
    json shape = json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    return json{{"dtype", static_cast<int>(t.dtype())}, {"dims", shape}, {"offset", off}, {"bytes", t.nbytes()}};
  }
  std::string& bytes() { return blob_; }

 private:
  std::string blob_;
};

json shape_json(const MaybeShape& s) {
  if (!s) return nullptr;
  json a = json::array();
  for (const Dim& d : *s) {
    if (d.is_known()) a.push_back(d.value);
    else a.push_back(d.symbol);  // "" for an unnamed unknown dim
  }
  return a;
}

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

json graph_json(const Graph& g, BlobWriter& blob);

json attribute_json(const Attribute& a, BlobWriter& blob) {
  json j{{"kind", static_cast<int>(a.kind)}};
  switch (a.kind) {
    case Attribute::Kind::kFloat: j["f"] = float_bits(a.f); break;  // bits: JSON has no inf/nan
    case Attribute::Kind::kInt: j["i"] = a.i; break;
    case Attribute::Kind::kString: j["s"] = json::binary(std::vector<uint8_t>(a.s.begin(), a.s.end())); break;
    case Attribute::Kind::kTensor: j["t"] = blob.add(a.t); break;
    case Attribute::Kind::kGraph: j["g"] = graph_json(*a.g, blob); break;
    case Attribute::Kind::kFloats: {
      json v = json::array();
      for (float f : a.floats) v.push_back(float_bits(f));
      j["floats"] = v;
      break;
    }
    case Attribute::Kind::kInts: j["ints"] = a.ints; break;
    case Attribute::Kind::kStrings: {
      json v = json::array();
      for (const auto& s : a.strings) v.push_back(json::binary(std::vector<uint8_t>(s.begin(), s.end())));
      j["strings"] = v;
      break;
    }
    case Attribute::Kind::kTensors: {
      json v = json::array();
      for (const auto& t : a.tensors) v.push_back(blob.add(t));
      j["tensors"] = v;
      break;
    }
    case Attribute::Kind::kGraphs: {
      json v = json::array();
      for (const auto& sg : a.graphs) v.push_back(graph_json(*sg, blob));
      j["graphs"] = v;
      break;
    }
  }
  return j;
}

json graph_json(const Graph& g, BlobWriter& blob) {
  json values = json::array();
  for (const auto& v : g.values()) {
    json jv{{"name", v->name()}, {"dtype", static_cast<int>(v->dtype)}, {"shape", shape_json(v->shape)}};
    if (v->constant) jv["const"] = blob.add(*v->constant);
    values.push_back(jv);
  }
  auto names = [](const std::vector<Value*>& vs) {
    json a = json::array();
    for (const Value* v : vs) a.push_back(v ? json(v->name()) : json(nullptr));
    return a;
  };
  json nodes = json::array();
  for (const auto& n : g.nodes()) {
    json attrs = json::object();
    for (const auto& [name, a] : n->attrs.all()) attrs[name] = attribute_json(a, blob);
    json backend_data = json::object();
    for (const auto& [name, a] : n->backend_data.all()) backend_data[name] = attribute_json(a, blob);
    nodes.push_back(json{{"name", n->name},
                         {"op", n->op_type},
                         {"domain", n->domain},
                         {"opset", n->opset},
                         {"inputs", names(n->inputs())},
                         {"outputs", names(n->outputs())},
                         {"attrs", attrs},
                         {"fused_from", n->fused_from},
                         {"backend", n->backend},
                         {"kernel", n->kernel},
                         {"precision", n->precision},
                         {"backend_data", backend_data}});
  }
  json opsets = json::object();
  for (const auto& [d, v] : g.opset_imports) opsets[d] = v;
  return json{{"name", g.name},   {"opsets", opsets},          {"values", values},
              {"nodes", nodes},   {"inputs", names(g.inputs())}, {"outputs", names(g.outputs())},
              {"outer_refs", names(g.outer_refs())}};
}

// --- reading -------------------------------------------------------------------------------

class Reader {
 public:
  Reader(const uint8_t* blob, size_t blob_size, std::shared_ptr<const void> storage, std::string what)
      : blob_(blob), blob_size_(blob_size), storage_(std::move(storage)), what_(std::move(what)) {}

  Result<Tensor> tensor(const json& j) {
    const auto dtype = static_cast<DataType>(j.at("dtype").get<int>());
    if (!dtype_is_supported(dtype)) return bad(fmt::format("a tensor has dtype {}", static_cast<int>(dtype)));
    Dims dims = j.at("dims").get<Dims>();
    const int64_t n = element_count(dims);
    if (n < 0) return bad("a tensor has an invalid shape");
    const auto off = j.at("offset").get<uint64_t>();
    const auto bytes = j.at("bytes").get<uint64_t>();
    if (bytes != static_cast<uint64_t>(n) * dtype_size(dtype)) return bad("a tensor's size does not match its shape");
    if (off > blob_size_ || bytes > blob_size_ - off) {
      return bad(fmt::format("a tensor at offset {} ({} bytes) lies outside the weights ({} bytes)", off, bytes, blob_size_));
    }
    if (off % kBlobAlign) return bad("a tensor is misaligned");
    // Read-only mapping: kernels never write their inputs.
    return Tensor::wrap(dtype, std::move(dims), const_cast<uint8_t*>(blob_ + off), storage_);
  }

  Result<std::unique_ptr<Graph>> graph(const json& j, Graph* parent) {
    // Subgraphs recurse: bound the depth so a damaged file cannot exhaust the stack.
    int depth = 0;
    for (const Graph* q = parent; q; q = q->parent) ++depth;
    if (depth > kMaxSubgraphDepth) return bad("subgraphs are nested too deeply");
    auto g = std::make_unique<Graph>();
    g->name = j.at("name").get<std::string>();
    g->parent = parent;
    for (const auto& [d, v] : j.at("opsets").items()) g->opset_imports[d] = v.get<int>();
    for (const json& jv : j.at("values")) {
      const std::string name = jv.at("name").get<std::string>();
      if (g->find_value(name)) return bad(fmt::format("value '{}' is defined twice", name));
      MaybeShape shape;
      if (!jv.at("shape").is_null()) {
        SymShape s;
        for (const json& d : jv.at("shape")) {
          if (d.is_number_integer()) s.push_back(Dim::known(d.get<int64_t>()));
          else s.push_back(d.get<std::string>().empty() ? Dim::unknown() : Dim::sym(d.get<std::string>()));
        }
        shape = s;
      }
      Value* v = g->add_value(name, static_cast<DataType>(jv.at("dtype").get<int>()), shape);
      if (jv.contains("const")) {
        KILN_ASSIGN_OR_RETURN(Tensor t, tensor(jv.at("const")));
        v->constant = std::move(t);
      }
    }
    auto lookup = [&](const json& name) -> Result<Value*> {
      if (name.is_null()) return static_cast<Value*>(nullptr);
      Value* v = g->find_value(name.get<std::string>());
      if (!v) return bad(fmt::format("unknown value '{}'", name.get<std::string>()));
      return v;
    };
    for (const json& r : j.at("outer_refs")) {
      KILN_ASSIGN_OR_RETURN(Value * v, lookup(r));
      if (v) g->add_outer_ref(v);
    }
    for (const json& r : j.at("inputs")) {
      KILN_ASSIGN_OR_RETURN(Value * v, lookup(r));
      if (!v) return bad("a graph input is null");
      g->add_input(v);
    }
    for (const json& jn : j.at("nodes")) {
      std::vector<Value*> ins, outs;
      for (const json& x : jn.at("inputs")) {
        KILN_ASSIGN_OR_RETURN(Value * v, lookup(x));
        ins.push_back(v);
      }
      for (const json& x : jn.at("outputs")) {
        KILN_ASSIGN_OR_RETURN(Value * v, lookup(x));
        if (v && v->producer()) return bad(fmt::format("value '{}' has two producers", v->name()));
        outs.push_back(v);
      }
      Node* n = g->add_node(jn.at("op").get<std::string>(), ins, outs, jn.at("name").get<std::string>(),
                            jn.at("domain").get<std::string>());
      n->opset = jn.at("opset").get<int>();
      n->fused_from = jn.at("fused_from").get<std::vector<std::string>>();
      n->backend = jn.at("backend").get<std::string>();
      n->kernel = jn.at("kernel").get<std::string>();
      n->schema = OpRegistry::global().find(n->domain, n->op_type, n->opset);
      if (!n->schema) {
        return incompatible(fmt::format("{}: the engine uses op {} (opset {}), which this build of kiln does not know",
                                        what_, n->op_type, n->opset));
      }
      for (const auto& [name, ja] : jn.at("attrs").items()) {
        KILN_ASSIGN_OR_RETURN(Attribute a, attribute(ja, g.get()));
        n->attrs.set(name, std::move(a));
      }
      n->precision = jn.at("precision").get<std::string>();
      for (const auto& [name, ja] : jn.at("backend_data").items()) {
        KILN_ASSIGN_OR_RETURN(Attribute a, attribute(ja, g.get()));
        n->backend_data.set(name, std::move(a));
      }
    }
    for (const json& r : j.at("outputs")) {
      KILN_ASSIGN_OR_RETURN(Value * v, lookup(r));
      if (!v) return bad("a graph output is null");
      g->add_output(v);
    }
    Status s = g->verify();
    if (!s.ok()) return bad(s.message());
    return g;
  }

 private:
  Status bad(const std::string& m) const { return corrupt(fmt::format("{} is damaged: {}", what_, m)); }

  Result<Attribute> attribute(const json& j, Graph* g) {
    Attribute a;
    const int kind = j.at("kind").get<int>();
    if (kind < 0 || kind > static_cast<int>(Attribute::Kind::kGraphs)) return bad("an attribute has an unknown kind");
    a.kind = static_cast<Attribute::Kind>(kind);
    auto bits_float = [](uint32_t b) {
      float f;
      std::memcpy(&f, &b, 4);
      return f;
    };
    switch (a.kind) {
      case Attribute::Kind::kFloat: a.f = bits_float(j.at("f").get<uint32_t>()); break;
      case Attribute::Kind::kInt: a.i = j.at("i").get<int64_t>(); break;
      case Attribute::Kind::kString: {
        const auto& b = j.at("s").get_binary();
        a.s.assign(b.begin(), b.end());
        break;
      }
      case Attribute::Kind::kTensor: {
        KILN_ASSIGN_OR_RETURN(a.t, tensor(j.at("t")));
        break;
      }
      case Attribute::Kind::kGraph: {
        KILN_ASSIGN_OR_RETURN(auto sg, graph(j.at("g"), g));
        a.g = std::shared_ptr<Graph>(std::move(sg));
        break;
      }
      case Attribute::Kind::kFloats:
        for (const json& x : j.at("floats")) a.floats.push_back(bits_float(x.get<uint32_t>()));
        break;
      case Attribute::Kind::kInts: a.ints = j.at("ints").get<std::vector<int64_t>>(); break;
      case Attribute::Kind::kStrings:
        for (const json& x : j.at("strings")) {
          const auto& b = x.get_binary();
          a.strings.emplace_back(b.begin(), b.end());
        }
        break;
      case Attribute::Kind::kTensors:
        for (const json& x : j.at("tensors")) {
          KILN_ASSIGN_OR_RETURN(Tensor t, tensor(x));
          a.tensors.push_back(std::move(t));
        }
        break;
      case Attribute::Kind::kGraphs:
        for (const json& x : j.at("graphs")) {
          KILN_ASSIGN_OR_RETURN(auto sg, graph(x, g));
          a.graphs.push_back(std::shared_ptr<Graph>(std::move(sg)));
        }
        break;
    }
    return a;
  }

  const uint8_t* blob_;
  size_t blob_size_;
  std::shared_ptr<const void> storage_;
  std::string what_;
};

// kiln never writes control characters in names (the importer refuses them), and names are echoed
// in messages that must stay on one line: a string with one in a loaded file is damage. Iterative,
// so a deeply nested (damaged) document cannot exhaust the stack.
bool has_control_char(const std::string& s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool strings_are_printable(const json& root) {
  std::vector<const json*> todo = {&root};
  while (!todo.empty()) {
    const json* j = todo.back();
    todo.pop_back();
    if (j->is_string() && has_control_char(j->get_ref<const std::string&>())) return false;
    if (j->is_object()) {
      for (auto it = j->begin(); it != j->end(); ++it) {
        if (has_control_char(it.key())) return false;
        todo.push_back(&it.value());
      }
    } else if (j->is_array()) {
      for (const json& v : *j) todo.push_back(&v);
    }
  }
  return true;
}

std::vector<InputRange> profile_from_json(const json& j) {
  std::vector<InputRange> p;
  for (const json& r : j) {
    p.push_back({r.at("input").get<std::string>(), r.at("min").get<Dims>(), r.at("opt").get<Dims>(), r.at("max").get<Dims>()});
  }
  return p;
}

}  // namespace

Result<std::string> serialize_engine(const EngineState& e) {
  BlobWriter blob;
  auto profile_json = [](const std::vector<InputRange>& p) {
    json out = json::array();
    for (const InputRange& r : p) out.push_back(json{{"input", r.input}, {"min", r.min}, {"opt", r.opt}, {"max", r.max}});
    return out;
  };
  json profiles = json::array();
  for (const auto& p : e.meta.profiles) profiles.push_back(profile_json(p));
  const json header{{"producer", e.meta.producer},
                    {"backend", e.meta.backend},
                    {"device", e.meta.device},
                    {"source_name", e.meta.source_name},
                    {"source_sha256", e.meta.source_sha256},
                    {"build_options", e.meta.build_options},
                    {"onnx_nodes", e.meta.onnx_nodes},
                    // "profile" is the first profile, as engines of one profile wrote it (and
                    // as readers that predate "profiles" read it: they accept only its shapes).
                    {"profile", e.meta.profiles.empty() ? json::array() : profile_json(e.meta.profiles[0])},
                    {"profiles", profiles}};
  const std::string header_bytes = header.dump();
  const std::vector<uint8_t> graph_cbor = json::to_cbor(graph_json(*e.graph, blob));
  std::string& blob_bytes = blob.bytes();

  Preamble p{};
  std::memcpy(p.magic, kMagic, 8);
  p.format_version = kEngineFormatVersion;
  p.preamble_size = kPreambleSize;
  p.header_offset = kPreambleSize;
  p.header_size = header_bytes.size();
  p.graph_offset = p.header_offset + p.header_size;
  p.graph_size = graph_cbor.size();
  p.blob_offset = (p.graph_offset + p.graph_size + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
  p.blob_size = blob_bytes.size();

  std::string out(p.blob_offset + p.blob_size, '\0');
  std::memcpy(out.data() + p.header_offset, header_bytes.data(), header_bytes.size());
  std::memcpy(out.data() + p.graph_offset, graph_cbor.data(), graph_cbor.size());
  if (p.blob_size) std::memcpy(out.data() + p.blob_offset, blob_bytes.data(), p.blob_size);
  p.checksum = XXH3_64bits(out.data() + kPreambleSize, out.size() - kPreambleSize);
  std::memcpy(out.data(), &p, sizeof p);
  return out;
}

Result<std::shared_ptr<EngineState>> deserialize_engine(const void* data, size_t size, std::shared_ptr<const void> storage,
                                                        const std::string& what) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (size < kPreambleSize) {
    if (size >= 8 && std::memcmp(bytes, kMagic, 8) == 0) {
      return corrupt(fmt::format("{} is truncated ({} bytes; the header alone is {})", what, size, kPreambleSize));
    }
    return invalid_argument(fmt::format("{} is not a kiln engine file (too short)", what));
  }
  Preamble p;
  std::memcpy(&p, bytes, sizeof p);
  if (std::memcmp(p.magic, kMagic, 8) != 0) return invalid_argument(fmt::format("{} is not a kiln engine file (bad magic)", what));
  if (p.format_version != kEngineFormatVersion) {
    return incompatible(fmt::format("{} has engine format version {}, but this build of kiln reads version {}; rebuild the engine from its ONNX model",
                                    what, p.format_version, kEngineFormatVersion));
  }
  auto in_bounds = [&](uint64_t off, uint64_t len) { return p.preamble_size == kPreambleSize && off >= kPreambleSize && off <= size && len <= size - off; };
  if (!in_bounds(p.header_offset, p.header_size) || !in_bounds(p.graph_offset, p.graph_size) || !in_bounds(p.blob_offset, p.blob_size)) {
    return corrupt(fmt::format("{} is truncated or damaged: its sections run past the end of the file ({} bytes)", what, size));
  }
  if (p.blob_offset % kBlobAlign) return corrupt(fmt::format("{} is damaged: misaligned weights", what));
  // The checksum does not cover the preamble, so its offsets must match the one layout the writer
  // produces (header, graph, aligned blob, end of file); otherwise a bit flip in blob_offset could
  // point the weights at other bytes and the file would load with wrong weights.
  if (p.header_offset != kPreambleSize || p.graph_offset != p.header_offset + p.header_size ||
      p.blob_offset != (p.graph_offset + p.graph_size + kBlobAlign - 1) / kBlobAlign * kBlobAlign ||
      p.blob_offset + p.blob_size != size) {
    return corrupt(fmt::format("{} is truncated or damaged: its section table does not match its {} bytes", what, size));
  }
  const uint64_t sum = XXH3_64bits(bytes + kPreambleSize, size - kPreambleSize);
  if (sum != p.checksum) return corrupt(fmt::format("{} is damaged: checksum mismatch", what));

  json header;
  try {
    header = json::parse(bytes + p.header_offset, bytes + p.header_offset + p.header_size);
  } catch (const std::exception& ex) {
    return corrupt(fmt::format("{} is damaged: header: {}", what, ex.what()));
  }
  if (!strings_are_printable(header)) return corrupt(fmt::format("{} is damaged: header: a string has a control character", what));
  auto state = std::make_shared<EngineState>();
  try {
    state->meta.producer = header.at("producer").get<std::string>();
    state->meta.backend = header.at("backend").get<std::string>();
    state->meta.device = header.at("device").get<std::string>();
    state->meta.source_name = header.at("source_name").get<std::string>();
    state->meta.source_sha256 = header.at("source_sha256").get<std::string>();
    state->meta.build_options = header.at("build_options").get<std::map<std::string, std::string>>();
    state->meta.onnx_nodes = header.at("onnx_nodes").get<size_t>();
    // Engines written before several profiles have only "profile": one profile, or none if empty.
    if (header.contains("profiles")) {
      for (const json& p : header.at("profiles")) state->meta.profiles.push_back(profile_from_json(p));
    } else {
      std::vector<InputRange> p = profile_from_json(header.at("profile"));
      if (!p.empty()) state->meta.profiles.push_back(std::move(p));
    }
  } catch (const std::exception& ex) {
    return corrupt(fmt::format("{} is damaged: header: {}", what, ex.what()));
  }
  const Backend* backend = find_backend(state->meta.backend);
  if (!backend) {
    return incompatible(fmt::format("{} was built for backend '{}', which this build of kiln does not have", what, state->meta.backend));
  }
  if (Status s = backend->available(); !s.ok()) {
    return incompatible(fmt::format("{} was built for backend '{}', which cannot run here: {}", what, state->meta.backend, s.message()));
  }
  if (const auto mismatch = backend->device_mismatch(state->meta.device)) {
    return incompatible(fmt::format("{} was built for device '{}', but this machine's {} device is '{}'{}; rebuild the engine here",
                                    what, state->meta.device, backend->name(), backend->device_signature(),
                                    mismatch->empty() ? "" : " (" + *mismatch + ")"));
  }
  Reader reader(bytes + p.blob_offset, p.blob_size, storage, what);
  std::unique_ptr<Graph> graph;
  try {
    const json gj = json::from_cbor(bytes + p.graph_offset, bytes + p.graph_offset + p.graph_size);
    if (!strings_are_printable(gj)) return corrupt(fmt::format("{} is damaged: graph: a name has a control character", what));
    KILN_ASSIGN_OR_RETURN(graph, reader.graph(gj, nullptr));
  } catch (const std::exception& ex) {
    return corrupt(fmt::format("{} is damaged: graph: {}", what, ex.what()));
  }
  return make_engine_state(std::shared_ptr<Graph>(std::move(graph)), state->meta, storage);
}

Result<std::shared_ptr<EngineState>> load_engine_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return not_found(fmt::format("engine file '{}' not found", path));
    return io_error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument(fmt::format("'{}' is not a regular file", path));
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return invalid_argument(fmt::format("'{}' is empty, not a kiln engine file", path));
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return io_error(fmt::format("cannot map '{}': {}", path, std::strerror(errno)));
  std::shared_ptr<const void> storage(m, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return deserialize_engine(m, size, storage, fmt::format("engine file '{}'", path));
}

}  // namespace kiln
