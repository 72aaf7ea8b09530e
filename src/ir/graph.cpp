#include "ir/graph.h"

#include <algorithm>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "fmt/format.h"

namespace kiln {

std::string shape_to_string(const MaybeShape& s) {
  if (!s) return "[?]";
  std::string out = "[";
  for (size_t i = 0; i < s->size(); ++i) {
    if (i) out += ',';
    out += (*s)[i].str();
  }
  return out + "]";
}

std::string Value::type_string() const {
  return fmt::format("{}{}", dtype_name(dtype), shape_to_string(shape));
}

std::string Node::describe() const {
  return fmt::format("node '{}' ({})", name, domain.empty() ? op_type : domain + ":" + op_type);
}

std::string Graph::unique_name(const std::string& base) const {
  if (!by_name_.count(base) && !base.empty()) return base;
  std::string b = base.empty() ? "v" : base;
  for (size_t k = 1;; ++k) {
    std::string n = fmt::format("{}_{}", b, k);
    if (!by_name_.count(n)) return n;
  }
}

Value* Graph::add_value(const std::string& name, DataType dtype, MaybeShape shape) {
  auto v = std::make_unique<Value>();
  v->name_ = unique_name(name);
  v->graph_ = this;
  v->dtype = dtype;
  v->shape = std::move(shape);
  Value* p = v.get();
  by_name_[p->name_] = p;
  values_.push_back(std::move(v));
  return p;
}

void Graph::rename_value(Value* v, const std::string& new_name) {
  by_name_.erase(v->name_);
  v->name_ = new_name;
  by_name_[new_name] = v;
}

Value* Graph::add_constant(const std::string& name, Tensor t) {
  Value* v = add_value(name, t.dtype(), sym_shape(t.shape()));
  v->constant = std::move(t);
  return v;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

void Graph::add_input(Value* v) {
  v->graph_input_ = true;
  inputs_.push_back(v);
}
void Graph::add_output(Value* v) {
  v->graph_output_ = true;
  outputs_.push_back(v);
}
void Graph::add_outer_ref(Value* v) {
  v->outer_ref_ = true;
  outer_refs_.push_back(v);
}
void Graph::set_outputs(std::vector<Value*> outs) {
  for (Value* v : outputs_) v->graph_output_ = false;
  outputs_ = std::move(outs);
  for (Value* v : outputs_) v->graph_output_ = true;
}

Node* Graph::add_node(const std::string& op_type, std::vector<Value*> inputs,
                      std::vector<Value*> outputs, const std::string& name, const std::string& domain) {
  Node* n = insert_node_before(nullptr, op_type, std::move(inputs), std::move(outputs), name);
  n->domain = domain;
  return n;
}

Node* Graph::insert_node_before(Node* pos, const std::string& op_type, std::vector<Value*> inputs,
                                std::vector<Value*> outputs, const std::string& name) {
  auto n = std::make_unique<Node>();
  n->op_type = op_type;
  n->name = name;
  n->graph_ = this;
  n->inputs_ = std::move(inputs);
  n->outputs_ = std::move(outputs);
  n->opset = opset_imports.count("") ? opset_imports.at("") : 0;
  Node* p = n.get();
  for (size_t i = 0; i < p->inputs_.size(); ++i) {
    if (p->inputs_[i]) p->inputs_[i]->uses_.push_back({p, i});
  }
  for (size_t i = 0; i < p->outputs_.size(); ++i) {
    if (p->outputs_[i]) {
      p->outputs_[i]->producer_ = p;
      p->outputs_[i]->producer_output_ = i;
    }
  }
  if (!pos) {
    nodes_.push_back(std::move(n));
  } else {
    auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& q) { return q.get() == pos; });
    nodes_.insert(it, std::move(n));
  }
  return p;
}

void Graph::set_input(Node* n, size_t i, Value* v) {
  if (i >= n->inputs_.size()) n->inputs_.resize(i + 1, nullptr);
  Value* old = n->inputs_[i];
  if (old) {
    auto& u = old->uses_;
    u.erase(std::remove_if(u.begin(), u.end(), [&](const Use& x) { return x.node == n && x.input_index == i; }),
            u.end());
  }
  n->inputs_[i] = v;
  if (v) v->uses_.push_back({n, i});
}

void Graph::set_output(Node* n, size_t i, Value* v) {
  if (i >= n->outputs_.size()) n->outputs_.resize(i + 1, nullptr);
  Value* old = n->outputs_[i];
  if (old && old != v && old->producer_ == n) old->producer_ = nullptr;
  n->outputs_[i] = v;
  if (v) {
    v->producer_ = n;
    v->producer_output_ = i;
  }
}

void Graph::replace_all_uses(Value* from, Value* to) {
  std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) set_input(u.node, u.input_index, to);
  for (Value*& o : outputs_) {
    if (o == from) {
      o = to;
      from->graph_output_ = false;
      to->graph_output_ = true;
    }
  }
}

void Graph::remove_node(Node* n) {
  for (size_t i = 0; i < n->inputs_.size(); ++i) set_input(n, i, nullptr);
  for (Value* o : n->outputs_) {
    if (o && o->producer_ == n) o->producer_ = nullptr;
  }
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [&](const auto& q) { return q.get() == n; }),
               nodes_.end());
  remove_dead_values();
}

std::set<std::string> Graph::names_read_by_subgraphs_of(const Node& n) {
  std::set<std::string> names;
  std::function<void(const Node&)> visit = [&](const Node& m) {
    for (const auto& [an, a] : m.attrs.all()) {
      std::vector<const Graph*> subs;
      if (a.g) subs.push_back(a.g.get());
      for (const auto& g2 : a.graphs) subs.push_back(g2.get());
      for (const Graph* sg : subs) {
        for (const Value* r : sg->outer_refs_) names.insert(r->name());
        for (const auto& inner : sg->nodes_) visit(*inner);
      }
    }
  };
  visit(n);
  return names;
}

std::set<std::string> Graph::names_read_by_subgraphs() const {
  std::set<std::string> names;
  for (const auto& n : nodes_) names.merge(names_read_by_subgraphs_of(*n));
  return names;
}

void Graph::remove_dead_values() {
  const std::set<std::string> outer_reads = names_read_by_subgraphs();
  auto dead = [&](const Value* v) {
    return !v->producer_ && v->uses_.empty() && !v->graph_input_ && !v->graph_output_ && !v->outer_ref_ &&
           !outer_reads.count(v->name_);
  };
  for (const auto& v : values_) {
    if (dead(v.get())) by_name_.erase(v->name_);
  }
  values_.erase(std::remove_if(values_.begin(), values_.end(), [&](const auto& v) { return dead(v.get()); }),
                values_.end());
}

Status Graph::topological_sort() {
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<size_t> pending(nodes_.size(), 0);
  std::vector<std::vector<size_t>> users(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::set<size_t> deps;
    for (Value* v : nodes_[i]->inputs_) {
      if (v && v->producer_ && v->producer_->graph_ == this) deps.insert(index.at(v->producer_));
    }
    // Subgraphs may read outer values implicitly: those producers must run first too.
    for (const std::string& name : names_read_by_subgraphs_of(*nodes_[i])) {
      Value* outer = find_value(name);
      if (outer && outer->producer_ && outer->producer_->graph_ == this) deps.insert(index.at(outer->producer_));
    }
    deps.erase(i);
    pending[i] = deps.size();
    for (size_t d : deps) users[d].push_back(i);
  }
  // Kahn's algorithm, always taking the lowest original index first to keep the order stable.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (pending[i] != 0) return invalid_argument(fmt::format("graph '{}' has a cycle through {}", name, nodes_[i]->describe()));
    }
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes_.size());
  for (size_t i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  return ok_status();
}

Status Graph::verify() const {
  std::unordered_set<const Value*> defined;
  for (const auto& v : values_) {
    if (v->constant || v->graph_input_ || v->outer_ref_) defined.insert(v.get());
  }
  for (const auto& n : nodes_) {
    for (size_t i = 0; i < n->inputs_.size(); ++i) {
      const Value* v = n->inputs_[i];
      if (!v) continue;
      if (v->graph_ != this) {
        return internal_error(fmt::format("{}: input {} '{}' belongs to another graph", n->describe(), i, v->name()));
      }
      if (!defined.count(v)) {
        return invalid_argument(fmt::format("{}: input {} '{}' is used before it is defined", n->describe(), i, v->name()));
      }
      bool listed = false;
      for (const Use& u : v->uses_) listed |= (u.node == n.get() && u.input_index == i);
      if (!listed) return internal_error(fmt::format("{}: use of '{}' not recorded", n->describe(), v->name()));
    }
    for (const Value* o : n->outputs_) {
      if (!o) continue;
      if (o->producer_ != n.get()) {
        return internal_error(fmt::format("{}: output '{}' has another producer", n->describe(), o->name()));
      }
      if (defined.count(o)) {
        return invalid_argument(fmt::format("{}: output '{}' is defined twice", n->describe(), o->name()));
      }
      defined.insert(o);
    }
  }
  for (const Value* o : outputs_) {
    if (!defined.count(o)) {
      return invalid_argument(fmt::format("graph '{}': output '{}' is never produced", name, o->name()));
    }
  }
  return ok_status();
}

void Graph::for_each_subgraph(const std::function<void(Graph&)>& fn) {
  for (const auto& n : nodes_) {
    for (const auto& [an, a] : n->attrs.all()) {
      if (a.g) {
        fn(*a.g);
        a.g->for_each_subgraph(fn);
      }
      for (const auto& g : a.graphs) {
        fn(*g);
        g->for_each_subgraph(fn);
      }
    }
  }
}

}  // namespace kiln
