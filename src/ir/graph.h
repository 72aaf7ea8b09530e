// The IR: a Graph of Nodes connected by Values. Nodes are kept in a valid execution order
// (topological); Values know their producer and their uses, so passes can rewire safely.
//
// Constants (ONNX initializers and folded values) are Values with `constant` set; they have no
// producer. A subgraph (If/Loop/Scan bodies) is a Graph whose `parent` is the enclosing graph;
// names it uses but does not define are its `outer_refs`, bound at run time from the enclosing
// scope.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "ir/shape.h"
#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

class Node;
class Graph;
struct OpSchema;

struct Use {
  Node* node;
  size_t input_index;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  DataType dtype = DataType::kUndefined;
  MaybeShape shape;
  std::optional<Tensor> constant;  // set for initializers and folded values

  Node* producer() const { return producer_; }
  size_t producer_output() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }
  bool is_constant() const { return constant.has_value(); }
  bool is_graph_input() const { return graph_input_; }
  bool is_graph_output() const { return graph_output_; }
  bool is_outer_ref() const { return outer_ref_; }
  Graph* graph() const { return graph_; }
  // "float32[batch,3,224,224]"
  std::string type_string() const;

 private:
  friend class Graph;
  std::string name_;
  Graph* graph_ = nullptr;
  Node* producer_ = nullptr;
  size_t producer_output_ = 0;
  std::vector<Use> uses_;
  bool graph_input_ = false;
  bool graph_output_ = false;
  bool outer_ref_ = false;
};

class Node {
 public:
  std::string name;
  std::string op_type;
  std::string domain;  // "" for ai.onnx
  int opset = 0;       // opset version of `domain` the node was written for
  Attributes attrs;
  // The ONNX nodes this node stands for (itself when imported; several after fusion).
  std::vector<std::string> fused_from;
  // Filled by the builder when it lowers the node to a backend kernel.
  std::string backend;
  std::string kernel;
  // The precision the kernel computes in when it is not the model's own ("bf16": an fp32 layer
  // whose products run in bfloat16); empty: the dtypes the graph says. Chosen by the builder.
  std::string precision;
  // What the kernel derived at build time from the node's constants for its static shapes (the
  // cpu backend's weights packed into oneDNN's blocked layout): stored in the engine, handed back
  // to the kernel when it is created, so loading does no repacking. Opaque to everything else.
  Attributes backend_data;
  const OpSchema* schema = nullptr;

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  // Optional inputs left empty in ONNX are nullptr.
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  bool has_input(size_t i) const { return input(i) != nullptr; }
  Graph* graph() const { return graph_; }
  // "node 'conv1' (Conv)": how errors name a node.
  std::string describe() const;

 private:
  friend class Graph;
  Graph* graph_ = nullptr;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;
  Graph* parent = nullptr;
  std::map<std::string, int> opset_imports;  // domain -> version ("" is ai.onnx)

  // --- values ---
  // A new value; the name must be unique in this graph (a suffix is added if it is not).
  Value* add_value(const std::string& name, DataType dtype = DataType::kUndefined,
                   MaybeShape shape = std::nullopt);
  Value* add_constant(const std::string& name, Tensor t);
  Value* find_value(const std::string& name) const;
  // Gives v another name (unused in this graph); readers by pointer are unaffected, readers by
  // name (subgraph bodies) then find whatever value takes the old name.
  void rename_value(Value* v, const std::string& new_name);
  std::string unique_name(const std::string& base) const;
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  // --- graph interface ---
  void add_input(Value* v);
  void add_output(Value* v);
  void add_outer_ref(Value* v);
  void set_outputs(std::vector<Value*> outs);
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<Value*>& outer_refs() const { return outer_refs_; }

  // --- nodes, in execution order ---
  // Appends a node. Its outputs must not have a producer yet.
  Node* add_node(const std::string& op_type, std::vector<Value*> inputs, std::vector<Value*> outputs,
                 const std::string& name = "", const std::string& domain = "");
  // Inserts before `pos` (nullptr: at the end).
  Node* insert_node_before(Node* pos, const std::string& op_type, std::vector<Value*> inputs,
                           std::vector<Value*> outputs, const std::string& name = "");
  // Removes a node; its outputs lose their producer (and are removed if unused).
  void remove_node(Node* n);
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  size_t num_nodes() const { return nodes_.size(); }

  void set_input(Node* n, size_t i, Value* v);
  // Makes n produce v as its output i instead of its current output there (which loses its
  // producer). v takes n as its producer, so a pass can hand a value that must keep its name (a
  // graph output, a name a subgraph reads) to an earlier node before removing v's old producer.
  void set_output(Node* n, size_t i, Value* v);
  // Points every use of `from` (and the graph output slot, if any) at `to`.
  void replace_all_uses(Value* from, Value* to);
  // Drops values with no producer, no use and no role (not input, output or constant in use).
  void remove_dead_values();
  // Re-sorts nodes topologically (stable); an error names a node on a cycle.
  Status topological_sort();
  // Checks structure: every input defined before use, uses consistent, outputs produced.
  Status verify() const;

  // Names that subgraphs of this graph's nodes (at any depth) read from enclosing scopes. A value
  // of this graph with such a name is in use even when no node of this graph reads it directly.
  std::set<std::string> names_read_by_subgraphs() const;
  // The same for one node's subgraphs.
  static std::set<std::string> names_read_by_subgraphs_of(const Node& n);

  // Calls fn on every subgraph of every node, recursively (pre-order).
  void for_each_subgraph(const std::function<void(Graph&)>& fn);

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_, outputs_, outer_refs_;
};

}  // namespace kiln
