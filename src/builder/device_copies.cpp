#include "builder/device_copies.h"
#include "builder/lowering.h"

#include <algorithm>
#include <unordered_map>

#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln {

namespace {

class CopyInserter {
 public:
  CopyInserter(Graph& g, const Backend& backend) : g_(g), backend_(backend) {}

  Status run() {
    KILN_RETURN_IF_ERROR(copy_subgraph_reads_to_host());
    KILN_RETURN_IF_ERROR(move_graph_outputs_to_host());
    const std::vector<Node*> nodes = snapshot();
    for (Node* n : nodes) {
      if (is_copy(*n)) continue;
      for (size_t i = 0; i < n->num_inputs(); ++i) {
        Value* v = n->input(i);
        if (!v || v->constant) continue;
        const bool want_device = on_device(n) && !reads_on_host(*n, i);
        if (want_device == in_device_memory(v)) continue;
        KILN_ASSIGN_OR_RETURN(Value * moved, copy_of(v, want_device, n));
        g_.set_input(n, i, moved);
      }
    }
    return ok_status();
  }

 private:
  bool on_device(const Node* n) const { return n && n->backend == backend_.name(); }
  // A value is in device memory when a device node writes it there (not kiln.CopyToHost).
  bool in_device_memory(const Value* v) const {
    const Node* p = v->producer();
    if (!on_device(p)) return false;
    const KernelEntry* k = backend_.kernels().find(*p);
    return !k || std::find(k->host_outputs.begin(), k->host_outputs.end(), v->producer_output()) == k->host_outputs.end();
  }
  static bool is_copy(const Node& n) { return n.domain == kKilnDomain && (n.op_type == "CopyToDevice" || n.op_type == "CopyToHost"); }
  bool reads_on_host(const Node& n, size_t i) const {
    const KernelEntry* k = backend_.kernels().find(n);
    return k && std::find(k->host_inputs.begin(), k->host_inputs.end(), i) != k->host_inputs.end();
  }
  std::vector<Node*> snapshot() const {
    std::vector<Node*> out;
    for (const auto& n : g_.nodes()) out.push_back(n.get());
    return out;
  }

  // A new copy node lowered to the backend, `before` the given node (nullptr: at the end).
  Result<Node*> add_copy(const char* op, Value* from, Value* to, Node* before) {
    return insert_lowered_node(g_, backend_, before, kKilnDomain, op, 1, {from}, {to}, g_.unique_name(std::string(op) + "_" + from->name()));
  }

  // `v` in the other memory, made once (before its first reader) and shared by later readers.
  Result<Value*> copy_of(Value* v, bool to_device, Node* first_reader) {
    auto& made = to_device ? on_device_copy_ : on_host_copy_;
    if (auto it = made.find(v); it != made.end()) return it->second;
    Value* moved = g_.add_value(g_.unique_name(v->name() + (to_device ? "_on_device" : "_on_host")), v->dtype, v->shape);
    KILN_RETURN_IF_ERROR(add_copy(to_device ? "CopyToDevice" : "CopyToHost", v, moved, first_reader).status());
    made[v] = moved;
    return moved;
  }

  // A graph output computed on the device: its producer now writes a device value, which a
  // CopyToHost at the end of the graph copies into the output (every reader but the copy reads
  // the device value; host readers get their own copy through the loop in run()).
  Status move_graph_outputs_to_host() {
    for (Value* out : std::vector<Value*>(g_.outputs())) {
      Node* p = out->producer();
      if (!in_device_memory(out)) continue;
      Value* dev = g_.add_value(g_.unique_name(out->name() + "_on_device"), out->dtype, out->shape);
      for (const Use& u : std::vector<Use>(out->uses())) g_.set_input(u.node, u.input_index, dev);
      const size_t k = out->producer_output();
      g_.set_output(p, k, dev);
      KILN_RETURN_IF_ERROR(add_copy("CopyToHost", dev, out, nullptr).status());
    }
    return ok_status();
  }

  // Subgraph bodies run in host memory and read outer values by name: a value they read that a
  // device layer computes is copied to the host under its own name (the device value is renamed
  // "<name>_on_device"), before the first node whose body reads it.
  Status copy_subgraph_reads_to_host() {
    for (Node* n : snapshot()) {
      for (const std::string& name : Graph::names_read_by_subgraphs_of(*n)) {
        Value* outer = g_.find_value(name);
        if (!outer || !in_device_memory(outer)) continue;
        g_.rename_value(outer, g_.unique_name(name + "_on_device"));
        Value* host = g_.add_value(name, outer->dtype, outer->shape);
        KILN_RETURN_IF_ERROR(add_copy("CopyToHost", outer, host, n).status());
        on_host_copy_[outer] = host;
      }
    }
    return ok_status();
  }

  Graph& g_;
  const Backend& backend_;
  std::unordered_map<Value*, Value*> on_device_copy_, on_host_copy_;
};

}  // namespace

Status insert_device_copies(Graph& g, const Backend& backend) {
  if (!backend.device()) return ok_status();
  return CopyInserter(g, backend).run();
}

}  // namespace kiln
