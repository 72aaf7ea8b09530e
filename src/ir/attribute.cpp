#include "ir/attribute.h"

#include "fmt/format.h"

namespace kiln {

const char* attribute_kind_name(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::kFloat: return "float";
    case Attribute::Kind::kInt: return "int";
    case Attribute::Kind::kString: return "string";
    case Attribute::Kind::kTensor: return "tensor";
    case Attribute::Kind::kGraph: return "graph";
    case Attribute::Kind::kFloats: return "floats";
    case Attribute::Kind::kInts: return "ints";
    case Attribute::Kind::kStrings: return "strings";
    case Attribute::Kind::kTensors: return "tensors";
    case Attribute::Kind::kGraphs: return "graphs";
  }
  return "?";
}

const Attribute* Attributes::find(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

void Attributes::set_int(const std::string& name, int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  map_[name] = std::move(a);
}
void Attributes::set_float(const std::string& name, float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  map_[name] = std::move(a);
}
void Attributes::set_string(const std::string& name, std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  map_[name] = std::move(a);
}
void Attributes::set_ints(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  map_[name] = std::move(a);
}
void Attributes::set_floats(const std::string& name, std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  map_[name] = std::move(a);
}
void Attributes::set_tensor(const std::string& name, Tensor v) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(v);
  map_[name] = std::move(a);
}

int64_t Attributes::get_int(const std::string& name, int64_t def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kInt ? a->i : def;
}
float Attributes::get_float(const std::string& name, float def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind == Attribute::Kind::kFloat) return a->f;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);
  return def;
}
std::string Attributes::get_string(const std::string& name, const std::string& def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kString ? a->s : def;
}
std::vector<int64_t> Attributes::get_ints(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kInts ? a->ints : def;
}
std::vector<float> Attributes::get_floats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kFloats ? a->floats : def;
}

Result<const Attribute*> Attributes::require(const std::string& name, Attribute::Kind kind) const {
  const Attribute* a = find(name);
  if (!a) return invalid_argument(fmt::format("missing required attribute '{}'", name));
  if (a->kind != kind) {
    return invalid_argument(fmt::format("attribute '{}' is {} (expected {})", name,
                                        attribute_kind_name(a->kind), attribute_kind_name(kind)));
  }
  return a;
}

Result<int64_t> Attributes::require_int(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kInt));
  return a->i;
}
Result<float> Attributes::require_float(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kFloat));
  return a->f;
}
Result<std::string> Attributes::require_string(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kString));
  return a->s;
}
Result<std::vector<int64_t>> Attributes::require_ints(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kInts));
  return a->ints;
}
Result<Tensor> Attributes::require_tensor(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kTensor));
  return a->t;
}
Result<std::shared_ptr<Graph>> Attributes::require_graph(const std::string& name) const {
  KILN_ASSIGN_OR_RETURN(const Attribute* a, require(name, Attribute::Kind::kGraph));
  return a->g;
}

}  // namespace kiln
