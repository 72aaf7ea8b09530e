#include "onnx/importer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "fmt/format.h"
#include "ir/op_schema.h"
#include "onnx/attribute_kinds.h"
#include "onnx/onnx-ml.pb.h"
#include "onnx/tensor_proto.h"
#include "onnx/wire_check.h"

namespace kiln {

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found(fmt::format("file '{}' not found", path));
  if (std::filesystem::is_directory(path, ec)) return invalid_argument(fmt::format("'{}' is a directory, not a file", path));
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(fmt::format("cannot open '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return io_error(fmt::format("cannot read '{}'", path));
  return ss.str();
}

namespace {

bool is_onnx_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

const char* type_kind(const onnx::TypeProto& t) {
  switch (t.value_case()) {
    case onnx::TypeProto::kTensorType: return "tensor";
    case onnx::TypeProto::kSequenceType: return "sequence";
    case onnx::TypeProto::kMapType: return "map";
    case onnx::TypeProto::kOptionalType: return "optional";
    case onnx::TypeProto::kSparseTensorType: return "sparse tensor";
    default: return "unknown";
  }
}

class Importer {
 public:
  Importer(std::string model_name, std::string base_dir, std::map<std::string, int> opsets)
      : model_name_(std::move(model_name)), base_dir_(std::move(base_dir)), opsets_(std::move(opsets)) {}

  Result<std::unique_ptr<Graph>> import_graph(const onnx::GraphProto& gp, Graph* parent) {
    auto g = std::make_unique<Graph>();
    g->name = gp.name().empty() ? (parent ? "subgraph" : "main") : gp.name();
    g->parent = parent;
    g->opset_imports = opsets_;
    const std::string where = parent ? fmt::format("subgraph '{}'", g->name) : fmt::format("model '{}'", model_name_);

    if (gp.sparse_initializer_size() > 0) return unsupported(fmt::format("{}: sparse initializers", where));
    std::set<std::string> init_names;
    for (const auto& tp : gp.initializer()) {
      if (tp.name().empty()) return invalid_argument(fmt::format("{}: an initializer has no name", where));
      if (!init_names.insert(tp.name()).second) {
        return invalid_argument(fmt::format("{}: initializer '{}' is defined twice", where, tp.name()));
      }
      KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, base_dir_, fmt::format("initializer '{}'", tp.name())));
      g->add_constant(tp.name(), std::move(t));
    }
    for (const auto& vi : gp.input()) {
      if (init_names.count(vi.name())) continue;  // IR < 4 lists initializers as inputs too
      if (g->find_value(vi.name())) return invalid_argument(fmt::format("{}: input '{}' is declared twice", where, vi.name()));
      KILN_ASSIGN_OR_RETURN(Value * v, declare_value(*g, vi, fmt::format("{}: input", where)));
      g->add_input(v);
    }
    // value_info: shapes the exporter recorded for intermediates; inference may refine them.
    std::map<std::string, const onnx::ValueInfoProto*> infos;
    for (const auto& vi : gp.value_info()) infos[vi.name()] = &vi;

    // Pass 1: create every node output, so nodes listed out of order still resolve.
    struct Pending {
      const onnx::NodeProto* proto;
      std::vector<Value*> outputs;
      std::string name;
    };
    std::vector<Pending> pending;
    size_t index = 0;
    for (const auto& np : gp.node()) {
      Pending p;
      p.proto = &np;
      p.name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), index) : np.name();
      ++index;
      for (const std::string& out : np.output()) {
        if (out.empty()) {
          p.outputs.push_back(nullptr);
          continue;
        }
        if (g->find_value(out)) {
          return invalid_argument(fmt::format("{}: node '{}' ({}) defines '{}', which is already defined",
                                              where, p.name, np.op_type(), out));
        }
        Value* v = g->add_value(out);
        if (auto it = infos.find(out); it != infos.end() && it->second->type().has_tensor_type()) {
          const auto& tt = it->second->type().tensor_type();
          v->dtype = static_cast<DataType>(tt.elem_type());
          if (tt.has_shape()) v->shape = convert_shape(tt.shape());
        }
        p.outputs.push_back(v);
      }
      pending.push_back(std::move(p));
    }
    // Pass 2: nodes, their inputs and attributes.
    for (Pending& p : pending) {
      const onnx::NodeProto& np = *p.proto;
      const std::string domain = is_onnx_domain(np.domain()) ? "" : np.domain();
      const int opset = opset_for(domain);
      const std::string node_desc = fmt::format("node '{}' ({}, opset {})", p.name, np.op_type(), opset);
      if (!domain.empty()) {
        return unsupported(fmt::format("{}: domain '{}' is not supported (kiln imports the ai.onnx domain only)",
                                       node_desc, domain));
      }
      const OpSchema* schema = OpRegistry::global().find(domain, np.op_type(), opset);
      if (!schema) {
        if (OpRegistry::global().knows(domain, np.op_type())) {
          return unsupported(fmt::format("{}: this opset version of {} is not supported", node_desc, np.op_type()));
        }
        return unsupported(fmt::format("{}: unknown op '{}'", node_desc, np.op_type()));
      }
      std::vector<Value*> inputs;
      for (const std::string& in : np.input()) {
        if (in.empty()) {
          inputs.push_back(nullptr);
          continue;
        }
        KILN_ASSIGN_OR_RETURN(Value * v, resolve(*g, in, node_desc));
        // A node reading its own output is a cycle of one; topological_sort does not see it and
        // the engine would then fail to load (found by fuzz_onnx_import).
        if (std::find(p.outputs.begin(), p.outputs.end(), v) != p.outputs.end()) {
          return invalid_argument(fmt::format("{}: input '{}' is its own output (a cycle)", node_desc, in));
        }
        inputs.push_back(v);
      }
      // Trailing omitted inputs carry no information.
      while (!inputs.empty() && !inputs.back()) inputs.pop_back();
      std::vector<Value*> outputs = p.outputs;
      while (!outputs.empty() && !outputs.back()) outputs.pop_back();
      if (inputs.size() < schema->min_inputs || (schema->max_inputs != OpSchema::kUnbounded && inputs.size() > schema->max_inputs)) {
        return invalid_argument(fmt::format("{}: has {} inputs, {} takes {}", node_desc, inputs.size(), np.op_type(),
                                            count_range(schema->min_inputs, schema->max_inputs)));
      }
      if (outputs.size() < schema->min_outputs || (schema->max_outputs != OpSchema::kUnbounded && outputs.size() > schema->max_outputs)) {
        return invalid_argument(fmt::format("{}: has {} outputs, {} gives {}", node_desc, outputs.size(), np.op_type(),
                                            count_range(schema->min_outputs, schema->max_outputs)));
      }
      Node* n = g->add_node(np.op_type(), inputs, outputs, p.name, domain);
      n->opset = opset;
      n->schema = schema;
      n->fused_from = {p.name};
      for (const auto& ap : np.attribute()) {
        KILN_ASSIGN_OR_RETURN(Attribute a, convert_attribute(ap, *g, node_desc));
        KILN_RETURN_IF_ERROR(check_attribute_kind(ap.name(), a, node_desc));
        n->attrs.set(ap.name(), std::move(a));
      }
    }
    for (const auto& vi : gp.output()) {
      Value* v = g->find_value(vi.name());
      if (!v) {
        // A subgraph may return a value of an enclosing scope directly.
        if (parent) {
          KILN_ASSIGN_OR_RETURN(v, resolve(*g, vi.name(), where));
        } else {
          return invalid_argument(fmt::format("{}: output '{}' is never produced", where, vi.name()));
        }
      }
      if (!vi.type().has_tensor_type() && vi.has_type()) {
        return unsupported(fmt::format("{}: output '{}' has type {} (kiln handles tensors)", where, vi.name(), type_kind(vi.type())));
      }
      if (vi.type().has_tensor_type()) {
        const auto& tt = vi.type().tensor_type();
        if (v->dtype == DataType::kUndefined) v->dtype = static_cast<DataType>(tt.elem_type());
        if (tt.has_shape() && !v->shape) v->shape = convert_shape(tt.shape());
      }
      g->add_output(v);
    }
    KILN_RETURN_IF_ERROR(g->topological_sort());
    return g;
  }

  size_t node_count = 0;

 private:
  static std::string count_range(size_t lo, size_t hi) {
    if (hi == OpSchema::kUnbounded) return fmt::format("at least {}", lo);
    if (lo == hi) return std::to_string(lo);
    return fmt::format("{} to {}", lo, hi);
  }

  int opset_for(const std::string& domain) const {
    auto it = opsets_.find(domain);
    return it == opsets_.end() ? 0 : it->second;
  }

  static SymShape convert_shape(const onnx::TensorShapeProto& sp) {
    SymShape s;
    for (const auto& d : sp.dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0) s.push_back(Dim::known(d.dim_value()));
      else if (d.has_dim_param() && !d.dim_param().empty()) s.push_back(Dim::sym(d.dim_param()));
      else s.push_back(Dim::unknown());
    }
    return s;
  }

  Result<Value*> declare_value(Graph& g, const onnx::ValueInfoProto& vi, const std::string& what) {
    if (vi.name().empty()) return invalid_argument(fmt::format("{} without a name", what));
    // Loop/Scan bodies may leave their inputs untyped: inference takes the types from the node.
    if (g.parent && vi.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) return g.add_value(vi.name());
    if (!vi.type().has_tensor_type()) {
      return unsupported(fmt::format("{} '{}' has type {} (kiln handles tensors)", what, vi.name(), type_kind(vi.type())));
    }
    const auto& tt = vi.type().tensor_type();
    const auto dtype = static_cast<DataType>(tt.elem_type());
    if (!dtype_is_supported(dtype)) {
      return unsupported(fmt::format("{} '{}' has dtype {}", what, vi.name(), dtype_name(dtype)));
    }
    MaybeShape shape;
    if (tt.has_shape()) shape = convert_shape(tt.shape());
    return g.add_value(vi.name(), dtype, shape);
  }

  // A name used by a node: defined in this graph, or (in a subgraph) in an enclosing one.
  Result<Value*> resolve(Graph& g, const std::string& name, const std::string& who) {
    if (Value* v = g.find_value(name)) return v;
    for (Graph* p = g.parent; p; p = p->parent) {
      if (Value* outer = p->find_value(name)) {
        Value* ref = g.add_value(name, outer->dtype, outer->shape);
        g.add_outer_ref(ref);
        // Intermediate scopes must pass the name through too, so the runtime can bind it.
        for (Graph* q = g.parent; q != p; q = q->parent) {
          if (!q->find_value(name)) q->add_outer_ref(q->add_value(name, outer->dtype, outer->shape));
        }
        return ref;
      }
    }
    return invalid_argument(fmt::format("{}: input '{}' is not defined", who, name));
  }

  // An attribute whose kind differs from the one ONNX defines for its name. An int where a
  // float is expected is accepted (and read as a float), as onnxruntime does.
  static Status check_attribute_kind(const std::string& name, Attribute& a, const std::string& who) {
    const auto want = expected_attribute_kind(name);
    if (!want || *want == a.kind) return ok_status();
    if (*want == Attribute::Kind::kFloat && a.kind == Attribute::Kind::kInt) {
      a.kind = Attribute::Kind::kFloat;
      a.f = static_cast<float>(a.i);
      return ok_status();
    }
    return invalid_argument(fmt::format("{}: attribute '{}' is {}, expected {}", who, name, attribute_kind_name(a.kind),
                                        attribute_kind_name(*want)));
  }

  Result<Attribute> convert_attribute(const onnx::AttributeProto& ap, Graph& g, const std::string& who) {
    Attribute a;
    const std::string what = fmt::format("{}: attribute '{}'", who, ap.name());
    if (!ap.ref_attr_name().empty()) return unsupported(fmt::format("{} refers to a function attribute", what));
    auto type = ap.type();
    if (type == onnx::AttributeProto::UNDEFINED) {
      // IR < 3 files may omit the type: take it from the field that is set.
      if (ap.has_f()) type = onnx::AttributeProto::FLOAT;
      else if (ap.has_i()) type = onnx::AttributeProto::INT;
      else if (ap.has_s()) type = onnx::AttributeProto::STRING;
      else if (ap.has_t()) type = onnx::AttributeProto::TENSOR;
      else if (ap.has_g()) type = onnx::AttributeProto::GRAPH;
      else if (ap.floats_size()) type = onnx::AttributeProto::FLOATS;
      else if (ap.ints_size()) type = onnx::AttributeProto::INTS;
      else if (ap.strings_size()) type = onnx::AttributeProto::STRINGS;
      else return invalid_argument(fmt::format("{} has no type and no value", what));
    }
    switch (type) {
      case onnx::AttributeProto::FLOAT: a.kind = Attribute::Kind::kFloat; a.f = ap.f(); break;
      case onnx::AttributeProto::INT: a.kind = Attribute::Kind::kInt; a.i = ap.i(); break;
      case onnx::AttributeProto::STRING: a.kind = Attribute::Kind::kString; a.s = ap.s(); break;
      case onnx::AttributeProto::FLOATS:
        a.kind = Attribute::Kind::kFloats;
        a.floats.assign(ap.floats().begin(), ap.floats().end());
        break;
      case onnx::AttributeProto::INTS:
        a.kind = Attribute::Kind::kInts;
        a.ints.assign(ap.ints().begin(), ap.ints().end());
        break;
      case onnx::AttributeProto::STRINGS:
        a.kind = Attribute::Kind::kStrings;
        a.strings.assign(ap.strings().begin(), ap.strings().end());
        break;
      case onnx::AttributeProto::TENSOR: {
        a.kind = Attribute::Kind::kTensor;
        KILN_ASSIGN_OR_RETURN(a.t, tensor_from_proto(ap.t(), base_dir_, what));
        break;
      }
      case onnx::AttributeProto::TENSORS:
        a.kind = Attribute::Kind::kTensors;
        for (const auto& tp : ap.tensors()) {
          KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, base_dir_, what));
          a.tensors.push_back(std::move(t));
        }
        break;
      case onnx::AttributeProto::GRAPH: {
        a.kind = Attribute::Kind::kGraph;
        KILN_ASSIGN_OR_RETURN(auto sub, import_graph(ap.g(), &g));
        a.g = std::shared_ptr<Graph>(std::move(sub));
        break;
      }
      case onnx::AttributeProto::GRAPHS:
        a.kind = Attribute::Kind::kGraphs;
        for (const auto& gp : ap.graphs()) {
          KILN_ASSIGN_OR_RETURN(auto sub, import_graph(gp, &g));
          a.graphs.push_back(std::shared_ptr<Graph>(std::move(sub)));
        }
        break;
      case onnx::AttributeProto::SPARSE_TENSOR:
      case onnx::AttributeProto::SPARSE_TENSORS:
        return unsupported(fmt::format("{} is a sparse tensor", what));
      case onnx::AttributeProto::TYPE_PROTO:
      case onnx::AttributeProto::TYPE_PROTOS:
        return unsupported(fmt::format("{} is a type", what));
      default:
        return invalid_argument(fmt::format("{} has unknown type {}", what, static_cast<int>(type)));
    }
    return a;
  }

  std::string model_name_;
  std::string base_dir_;
  std::map<std::string, int> opsets_;
};

// --- names fit for one-line messages ---------------------------------------------------------
// ONNX asks for C90 identifiers; kiln accepts more (exporters write '/', ':', '.'), but not control
// characters: no exporter writes them, and a name echoed in an error must not break the message
// over lines (or send escape sequences to a terminal), e.g. from a bit-flipped file.

bool has_control_char(const std::string& s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string escape_control_chars(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += ch;
  }
  return out;
}

std::optional<std::string> bad_name(const char* what, const std::string& s) {
  if (!has_control_char(s)) return std::nullopt;
  return fmt::format("{} \"{}\" contains a control character", what, escape_control_chars(s));
}

std::optional<std::string> bad_value_info(const onnx::ValueInfoProto& vi) {
  if (auto b = bad_name("value", vi.name())) return b;
  if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape()) {
    for (const auto& d : vi.type().tensor_type().shape().dim()) {
      if (auto b = bad_name("symbolic dim", d.dim_param())) return b;
    }
  }
  return std::nullopt;
}

// The first name in `g` (and its subgraphs) that would be echoed in messages and is not printable.
std::optional<std::string> find_bad_name(const onnx::GraphProto& g) {
  if (auto b = bad_name("graph name", g.name())) return b;
  for (const auto& t : g.initializer()) {
    if (auto b = bad_name("initializer", t.name())) return b;
  }
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
    for (const auto& vi : *list) {
      if (auto b = bad_value_info(vi)) return b;
    }
  }
  for (const auto& n : g.node()) {
    if (auto b = bad_name("node name", n.name())) return b;
    if (auto b = bad_name("op type", n.op_type())) return b;
    if (auto b = bad_name("domain", n.domain())) return b;
    for (const auto* list : {&n.input(), &n.output()}) {
      for (const auto& v : *list) {
        if (auto b = bad_name("value", v)) return b;
      }
    }
    for (const auto& a : n.attribute()) {
      if (auto b = bad_name("attribute name", a.name())) return b;
      if (a.has_g()) {
        if (auto b = find_bad_name(a.g())) return b;
      }
      for (const auto& sg : a.graphs()) {
        if (auto b = find_bad_name(sg)) return b;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

Result<ImportedModel> import_onnx_bytes_impl(const std::string& bytes, const std::string& name, const std::string& base_dir) {
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return unsupported(fmt::format("'{}' is {} bytes: ONNX files over 2 GiB must keep weights as external data", name, bytes.size()));
  }
  if (!model.ParseFromString(bytes)) {
    if (auto fault = find_wire_fault(bytes)) {
      return corrupt(fmt::format("'{}' is not a valid ONNX model: {} at byte offset {}", name, fault->what, fault->offset));
    }
    return corrupt(fmt::format("'{}' is not a valid ONNX model (protobuf parse failed)", name));
  }
  if (!model.has_graph()) {
    if (auto fault = find_wire_fault(bytes)) {
      return corrupt(fmt::format("'{}' is not a valid ONNX model: {} at byte offset {}", name, fault->what, fault->offset));
    }
    return invalid_argument(fmt::format("'{}' is not an ONNX model: it has no graph", name));
  }
  if (model.ir_version() <= 0) return invalid_argument(fmt::format("'{}': ir_version is not set", name));
  if (model.ir_version() > kMaxOnnxIrVersion) {
    return unsupported(fmt::format("'{}' has ONNX IR version {}; kiln reads IR versions up to {}", name,
                                   model.ir_version(), kMaxOnnxIrVersion));
  }
  std::map<std::string, int> opsets;
  for (const auto& op : model.opset_import()) {
    const std::string d = is_onnx_domain(op.domain()) ? "" : op.domain();
    opsets[d] = static_cast<int>(op.version());
  }
  if (model.opset_import_size() == 0) {
    // IR 1/2 files predate opset_import. From IR 3 on it is required (as onnx's checker says);
    // defaulting such a file to opset 1 would silently build a different model, e.g. from a
    // file truncated just before its trailing opset_import field.
    if (model.ir_version() >= 3) {
      return invalid_argument(fmt::format("'{}' has no opset_import (required from ONNX IR version 3; the file has IR {}); is it truncated?",
                                          name, model.ir_version()));
    }
    opsets[""] = 1;
  }
  if (opsets.count("") && opsets[""] > kMaxOnnxOpset) {
    return unsupported(fmt::format("'{}' uses ai.onnx opset {}; kiln supports opsets 1 to {}", name, opsets[""], kMaxOnnxOpset));
  }
  if (model.functions_size() > 0) {
    // Only used if a node calls one; the node's op lookup then fails with its name.
  }
  for (const auto& op : model.opset_import()) {
    if (auto b = bad_name("opset domain", op.domain())) return invalid_argument(fmt::format("'{}': {}", name, *b));
  }
  if (auto b = find_bad_name(model.graph())) return invalid_argument(fmt::format("'{}': {}", name, *b));
  const std::string model_name = std::filesystem::path(name).filename().string();
  Importer importer(model_name, base_dir, opsets);
  KILN_ASSIGN_OR_RETURN(auto graph, importer.import_graph(model.graph(), nullptr));
  ImportedModel m;
  m.graph = std::move(graph);
  m.ir_version = model.ir_version();
  m.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  m.onnx_nodes = static_cast<size_t>(model.graph().node_size());
  return m;
}

}  // namespace

Result<ImportedModel> import_onnx_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir) {
  auto r = import_onnx_bytes_impl(bytes, name, base_dir);
  // Strings from the file that are not names (an external data location, the file name itself)
  // may still reach a message: keep every error on one line.
  if (!r.ok() && has_control_char(r.status().message())) {
    return Status(r.status().code(), escape_control_chars(r.status().message()));
  }
  return r;
}

Result<ImportedModel> import_onnx_file(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return import_onnx_bytes(bytes, path, dir.empty() ? "." : dir);
}

Result<Tensor> tensor_from_proto_bytes(const std::string& bytes, const std::string& what) {
  onnx::TensorProto tp;
  if (!tp.ParseFromString(bytes)) return corrupt(fmt::format("{} is not a valid TensorProto", what));
  return tensor_from_proto(tp, "", what);
}

}  // namespace kiln
