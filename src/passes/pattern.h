// Helpers the passes share for matching node patterns and rewriting them.
//
// A rewrite replaces a group of nodes by one new node that produces the group's final output
// Value (so consumers and graph outputs need no rewiring). It is only safe when every other
// value the group produces is read inside the group alone: GraphUses answers that, counting
// graph outputs and values that subgraphs read by name as outside readers.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln {

class GraphUses {
 public:
  explicit GraphUses(const Graph& g) : subgraph_reads_(g.names_read_by_subgraphs()) {}
  // Read by something other than node inputs of this graph (a graph output, a subgraph).
  bool read_outside(const Value* v) const { return v->is_graph_output() || subgraph_reads_.count(v->name()) != 0; }
  // Exactly one node input reads v, and nothing else does.
  bool single_use(const Value* v) const { return v && v->uses().size() == 1 && !read_outside(v); }
  // Every reader of v is one of `group` (a node reading v twice counts once).
  bool used_only_by(const Value* v, const std::set<const Node*>& group) const;

 private:
  std::set<std::string> subgraph_reads_;
};

// The node producing v when it is the ai.onnx op `op_type`, else nullptr.
Node* producer_op(const Value* v, const char* op_type);
// The only node reading v (when v has exactly one use), else nullptr.
Node* sole_consumer(const Value* v);
// Is n an ai.onnx op of this type?
bool is_op(const Node* n, const char* op_type);

// A constant holding one value, or the same value in every element (any float or int dtype).
std::optional<double> uniform_constant(const Value* v);
// As uniform_constant, and close to `expected` (relative 1e-4: exporters write sqrt(2) and
// friends with a float's precision).
bool is_constant_near(const Value* v, double expected);
// For a binary node (Add, Mul, ...): the operand other than `v`, or nullptr when neither input
// is `v` or both are.
Value* other_operand(const Node* binary, const Value* v);

bool is_float_type(DataType t);
// A float constant's elements as doubles (nullopt for a non-constant or non-float value).
std::optional<std::vector<double>> constant_as_doubles(const Value* v);
// A 1-D int64 tensor.
Tensor int64_tensor(const std::vector<int64_t>& values);
// A float tensor of this dtype holding `values` (rounded to the dtype).
Tensor tensor_from_doubles(DataType dtype, const Dims& dims, const std::vector<double>& values);
// Same rank and every dim equal (known sizes, or the same symbol).
bool same_shape(const MaybeShape& a, const MaybeShape& b);

// Inserts a node before `pos` (nullptr: at the end) with its schema looked up, for a fused op
// (domain "kiln", opset 1) or an ai.onnx op at `opset`. The new node stands for `from`: its
// fused_from is theirs, in order. The new node takes over producing `outputs`; the caller then
// removes the replaced nodes (remove_nodes), which leaves those outputs alone. `pos` is usually
// the group's last node: every input of the group is defined before it, every reader after.
Result<Node*> insert_replacement(Graph& g, Node* pos, const std::string& domain, const std::string& op_type, int opset,
                                 std::vector<Value*> inputs, std::vector<Value*> outputs,
                                 const std::vector<const Node*>& from, const std::string& name = "");
// insert_replacement placed where the group's output is produced (every input of the group is
// defined before that, every reader after), then the group removed: one fused node for `group`.
Result<Node*> replace_nodes(Graph& g, const std::vector<Node*>& group, const std::string& domain, const std::string& op_type,
                            int opset, std::vector<Value*> inputs, Value* output, const std::string& name = "");
// Removes nodes (any order) from g.
void remove_nodes(Graph& g, const std::vector<Node*>& nodes);

// The sweep the fusion passes share: calls `rewrite` on each node of g in order (skipping nodes
// an earlier rewrite removed). `rewrite` matches its pattern at that node and, if it matches,
// replaces it (insert_replacement, remove_nodes) and returns the nodes it removed; an empty list
// means no match. Returns whether anything was rewritten; dead values are dropped at the end.
using NodeRewrite = std::function<Result<std::vector<Node*>>(Node*)>;
Result<bool> rewrite_each(Graph& g, const NodeRewrite& rewrite);

// Does a value of shape `o` broadcast (numpy rules) into shape `y` without enlarging it?
bool broadcasts_into(const MaybeShape& o, const MaybeShape& y);

// For ReduceMean with keepdims=1 over the last k axes of an input of known rank (axes as the
// attribute before opset 18, as a constant input from 18): k. nullopt otherwise.
std::optional<size_t> reduce_mean_trailing_axes(const Node* n);
// Is `c` a constant of exactly the trailing `k` dims of `x`'s shape (a norm's scale or bias)?
bool is_trailing_dims_constant(const Value* c, const Value* x, size_t k);

// Makes Gather(Shape(x), i), a read of one dim, read dim `axis` of `src` instead. The Shape(src)
// node is made once per src (remembered in `shapes`) and placed before `pos`, which must come
// after src is defined and before every gather redirected to it.
Status read_dim_from(Graph& g, Node* gather, Value* src, int64_t axis, Node* pos, std::map<const Value*, Value*>& shapes);

// Norm building blocks. `v + eps -> Sqrt` with v read only there and eps a one-element
// constant: the Sqrt node (eps stored, Add and Sqrt appended to `nodes`), else nullptr.
Node* sqrt_of_plus_epsilon(Value* v, const GraphUses& uses, float* eps, std::vector<Node*>* nodes);
// The `op` (Mul for a scale, Add for a bias) that alone reads v, when its other operand is a
// constant of exactly x's trailing k dims; else nullptr.
Node* trailing_dims_affine(const Value* v, const char* op, const Value* x, size_t k, const GraphUses& uses);

// A new constant of ones shaped as the trailing k dims of x (a norm's default scale); nullptr
// when those dims are not all known.
Value* ones_for_trailing_dims(Graph& g, const Value* x, size_t k, const std::string& name);

// The ai.onnx opset the graph imports (for new ai.onnx nodes, which must be valid there).
int onnx_opset(const Graph& g);

}  // namespace kiln
