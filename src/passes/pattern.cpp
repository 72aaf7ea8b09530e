#include "passes/pattern.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/op_schema.h"

namespace kiln {

bool GraphUses::used_only_by(const Value* v, const std::set<const Node*>& group) const {
  if (read_outside(v)) return false;
  for (const Use& u : v->uses()) {
    if (!group.count(u.node)) return false;
  }
  return true;
}

bool is_op(const Node* n, const char* op_type) { return n && n->domain.empty() && n->op_type == op_type; }

Node* producer_op(const Value* v, const char* op_type) {
  return v && is_op(v->producer(), op_type) ? v->producer() : nullptr;
}

Node* sole_consumer(const Value* v) { return v && v->uses().size() == 1 ? v->uses()[0].node : nullptr; }

namespace {
template <typename T>
double to_double(T x) {
  if constexpr (std::is_same_v<T, double>) return x;
  else if constexpr (std::is_integral_v<T>) return static_cast<double>(x);
  else return static_cast<double>(static_cast<float>(x));
}
template <typename T>
T from_double(double x) {
  if constexpr (std::is_same_v<T, double>) return x;
  else return static_cast<T>(static_cast<float>(x));
}
}  // namespace

std::optional<double> uniform_constant(const Value* v) {
  if (!v || !v->constant || v->constant->numel() == 0) return std::nullopt;
  const Tensor& t = *v->constant;
  std::optional<double> first;
  bool uniform = true;
  bool readable = true;
  auto read = [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data_as<T>();
    for (int64_t i = 0; i < t.numel() && uniform; ++i) {
      const double x = to_double(p[i]);
      if (!first) first = x;
      else if (x != *first) uniform = false;
    }
  };
  switch (t.dtype()) {
    case DataType::kFloat32: read(float{}); break;
    case DataType::kFloat64: read(double{}); break;
    case DataType::kFloat16: read(Float16{}); break;
    case DataType::kBFloat16: read(BFloat16{}); break;
    case DataType::kInt64: read(int64_t{}); break;
    case DataType::kInt32: read(int32_t{}); break;
    default: readable = false;
  }
  if (!readable || !uniform) return std::nullopt;
  return first;
}

bool is_constant_near(const Value* v, double expected) {
  auto c = uniform_constant(v);
  return c && std::abs(*c - expected) <= 1e-4 * std::max(1.0, std::abs(expected));
}

Value* other_operand(const Node* binary, const Value* v) {
  if (!binary || binary->num_inputs() != 2) return nullptr;
  const bool a = binary->input(0) == v, b = binary->input(1) == v;
  if (a == b) return nullptr;
  return a ? binary->input(1) : binary->input(0);
}

bool is_float_type(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 || t == DataType::kFloat64;
}

std::optional<std::vector<double>> constant_as_doubles(const Value* v) {
  if (!v || !v->constant || !is_float_type(v->constant->dtype())) return std::nullopt;
  const Tensor& t = *v->constant;
  std::vector<double> out(static_cast<size_t>(t.numel()));
  (void)dispatch_float(t.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = to_double(p[i]);
    return ok_status();
  });
  return out;
}

Tensor int64_tensor(const std::vector<int64_t>& values) {
  Tensor t = *Tensor::allocate(DataType::kInt64, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data_as<int64_t>());
  return t;
}

Tensor tensor_from_doubles(DataType dtype, const Dims& dims, const std::vector<double>& values) {
  Tensor t = *Tensor::allocate(dtype, dims);
  (void)dispatch_float(dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    T* p = t.data_as<T>();
    for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.numel(); ++i) p[i] = from_double<T>(values[i]);
    return ok_status();
  });
  return t;
}

bool same_shape(const MaybeShape& a, const MaybeShape& b) {
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    const Dim& x = (*a)[i];
    const Dim& y = (*b)[i];
    if (x.is_known() != y.is_known()) return false;
    if (x.is_known() ? x.value != y.value : (x.symbol.empty() || x.symbol != y.symbol)) return false;
  }
  return true;
}

Result<Node*> insert_replacement(Graph& g, Node* pos, const std::string& domain, const std::string& op_type, int opset,
                                 std::vector<Value*> inputs, std::vector<Value*> outputs,
                                 const std::vector<const Node*>& from, const std::string& name) {
  const OpSchema* schema = OpRegistry::global().find(domain, op_type, opset);
  if (!schema) return internal_error(fmt::format("no schema for {}{} at opset {}", domain.empty() ? "" : domain + ".", op_type, opset));
  std::string base = name;
  if (base.empty()) base = from.empty() ? op_type : from.back()->name;
  Node* n = g.insert_node_before(pos, op_type, std::move(inputs), std::move(outputs), base);
  n->domain = domain;
  n->opset = opset;
  n->schema = schema;
  for (const Node* f : from) n->fused_from.insert(n->fused_from.end(), f->fused_from.begin(), f->fused_from.end());
  return n;
}

Result<Node*> replace_nodes(Graph& g, const std::vector<Node*>& group, const std::string& domain, const std::string& op_type,
                            int opset, std::vector<Value*> inputs, Value* output, const std::string& name) {
  Node* last = output->producer();
  KILN_ASSIGN_OR_RETURN(Node * n, insert_replacement(g, last, domain, op_type, opset, std::move(inputs), {output},
                                                     {group.begin(), group.end()}, name));
  remove_nodes(g, group);
  return n;
}

void remove_nodes(Graph& g, const std::vector<Node*>& nodes) {
  for (Node* n : nodes) g.remove_node(n);
}

std::optional<size_t> reduce_mean_trailing_axes(const Node* n) {
  if (!is_op(n, "ReduceMean") || n->attrs.get_int("keepdims", 1) != 1 || !n->input(0) || !n->input(0)->shape) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(n->input(0)->shape->size());
  std::vector<int64_t> axes;
  if (n->opset < 18) {
    axes = n->attrs.get_ints("axes");
  } else {
    const Value* a = n->input(1);
    if (!a || !a->constant || a->dtype != DataType::kInt64) return std::nullopt;
    axes.assign(a->constant->data_as<int64_t>(), a->constant->data_as<int64_t>() + a->constant->numel());
  }
  if (axes.empty() || static_cast<int64_t>(axes.size()) > rank) return std::nullopt;
  std::set<int64_t> norm;
  for (int64_t x : axes) norm.insert(x < 0 ? x + rank : x);
  const int64_t k = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(norm.size()) != k || *norm.begin() != rank - k || *norm.rbegin() != rank - 1) return std::nullopt;
  return static_cast<size_t>(k);
}

bool is_trailing_dims_constant(const Value* c, const Value* x, size_t k) {
  if (!c || !c->constant || !x->shape || x->shape->size() < k || c->dtype != x->dtype) return false;
  const Dims& d = c->constant->shape();
  if (d.size() != k) return false;
  for (size_t i = 0; i < k; ++i) {
    const Dim& xd = (*x->shape)[x->shape->size() - k + i];
    if (!xd.is_known() || xd.value != d[i]) return false;
  }
  return true;
}

bool broadcasts_into(const MaybeShape& o, const MaybeShape& y) {
  if (!o || !y || o->size() > y->size()) return false;
  const size_t off = y->size() - o->size();
  for (size_t i = 0; i < o->size(); ++i) {
    const Dim& a = (*o)[i];
    if (a.is_known() && a.value == 1) continue;
    if (!same_shape(SymShape{a}, SymShape{(*y)[off + i]})) return false;
  }
  return true;
}

Status read_dim_from(Graph& g, Node* gather, Value* src, int64_t axis, Node* pos, std::map<const Value*, Value*>& shapes) {
  Value*& shape = shapes[src];
  if (!shape) {
    shape = g.add_value(src->name() + "_shape", DataType::kInt64, SymShape{Dim::known(static_cast<int64_t>(src->shape->size()))});
    KILN_RETURN_IF_ERROR(insert_replacement(g, pos, "", "Shape", onnx_opset(g), {src}, {shape}, {}, src->name() + "_shape").status());
  }
  Tensor idx = *Tensor::allocate(DataType::kInt64, gather->input(1)->constant->shape());  // 0-D or [1], as it was
  idx.data_as<int64_t>()[0] = axis;
  g.set_input(gather, 0, shape);
  g.set_input(gather, 1, g.add_constant(gather->name + "_index", idx));
  return ok_status();
}

Node* sqrt_of_plus_epsilon(Value* v, const GraphUses& uses, float* eps, std::vector<Node*>* nodes) {
  if (!uses.single_use(v)) return nullptr;
  Node* add = sole_consumer(v);
  if (!is_op(add, "Add")) return nullptr;
  const Value* e = other_operand(add, v);
  auto value = uniform_constant(e);
  if (!value || e->constant->numel() != 1 || !uses.single_use(add->output(0))) return nullptr;
  Node* sq = sole_consumer(add->output(0));
  if (!is_op(sq, "Sqrt")) return nullptr;
  *eps = static_cast<float>(*value);
  nodes->push_back(add);
  nodes->push_back(sq);
  return sq;
}

Node* trailing_dims_affine(const Value* v, const char* op, const Value* x, size_t k, const GraphUses& uses) {
  if (!uses.single_use(v)) return nullptr;
  Node* n = sole_consumer(v);
  return is_op(n, op) && is_trailing_dims_constant(other_operand(n, v), x, k) ? n : nullptr;
}

Value* ones_for_trailing_dims(Graph& g, const Value* x, size_t k, const std::string& name) {
  if (!x->shape || x->shape->size() < k) return nullptr;
  Dims dims;
  int64_t count = 1;
  for (size_t i = x->shape->size() - k; i < x->shape->size(); ++i) {
    const Dim& d = (*x->shape)[i];
    if (!d.is_known()) return nullptr;
    dims.push_back(d.value);
    count *= d.value;
  }
  return g.add_constant(name, tensor_from_doubles(x->dtype, dims, std::vector<double>(static_cast<size_t>(count), 1.0)));
}

Result<bool> rewrite_each(Graph& g, const NodeRewrite& rewrite) {
  std::vector<Node*> order;
  for (const auto& n : g.nodes()) order.push_back(n.get());
  std::set<const Node*> removed;  // compared by address only: these may be deleted
  bool changed = false;
  for (Node* n : order) {
    if (removed.count(n)) continue;
    KILN_ASSIGN_OR_RETURN(std::vector<Node*> gone, rewrite(n));
    removed.insert(gone.begin(), gone.end());
    changed |= !gone.empty();
  }
  g.remove_dead_values();
  return changed;
}

int onnx_opset(const Graph& g) {
  auto it = g.opset_imports.find("");
  return it == g.opset_imports.end() ? 17 : it->second;
}

}  // namespace kiln
