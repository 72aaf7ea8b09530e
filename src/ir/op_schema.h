// What kiln knows about an op: how many inputs and outputs it takes and how to infer its output
// types and shapes. One schema per op, registered in an explicit table (src/ir/ops/op_table.cpp).
// A schema covers opsets from `since_version` up to the next registered schema of the same op;
// where ONNX changed an op only slightly, one schema handles all versions by reading node.opset.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

// What inference knows about one value: its type, its shape (possibly symbolic or unknown) and,
// when it is a constant or computable ahead (shape arithmetic), its contents.
struct ValueState {
  DataType dtype = DataType::kUndefined;
  MaybeShape shape;
  std::optional<Tensor> value;
  // For a small int tensor whose contents are not all known but derive from shapes: its
  // elements (see ShapeElem). Unset when unknown or when `value` is set.
  std::optional<ShapeElems> elems;
};

class InferenceContext {
 public:
  InferenceContext(const Node& node, std::vector<const ValueState*> inputs);

  const Node& node() const { return node_; }
  const Attributes& attrs() const { return node_.attrs; }
  int opset() const { return node_.opset; }

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  DataType input_dtype(size_t i) const;
  const MaybeShape& input_shape(size_t i) const;
  size_t input_rank(size_t i) const;  // only when input_shape(i) is known
  // The input's contents when known ahead (constant or folded), else nullptr.
  const Tensor* input_value(size_t i) const;
  // The input's elements as shape arithmetic knows them: from its contents when known (an int
  // tensor), else from symbolic tracking; nullopt when neither.
  std::optional<ShapeElems> input_elems(size_t i) const;

  size_t num_outputs() const { return outputs_.size(); }
  void set_output(size_t i, DataType dtype, MaybeShape shape);
  // Sets an output's contents too (for ops whose value inference computes, like Shape).
  void set_output_value(size_t i, Tensor value);
  const std::vector<ValueState>& outputs() const { return outputs_; }
  std::vector<ValueState>& mutable_outputs() { return outputs_; }

  // An invalid-argument error that names the node: "node 'x' (Op): msg".
  Status error(const std::string& msg) const;
  Status unsupported_error(const std::string& msg) const;

  // Set by graph inference: infers a subgraph given the states of its inputs; returns the states
  // of its outputs. Control-flow ops use it.
  std::function<Result<std::vector<ValueState>>(const Graph&, const std::vector<ValueState>&)>
      infer_subgraph;

 private:
  const Node& node_;
  std::vector<const ValueState*> inputs_;
  std::vector<ValueState> outputs_;
};

struct OpSchema {
  std::string domain;  // "" is ai.onnx
  std::string op_type;
  int since_version = 1;
  size_t min_inputs = 0;
  size_t max_inputs = 0;  // kUnbounded for variadic
  size_t min_outputs = 1;
  size_t max_outputs = 1;
  bool deterministic = true;  // false for random ops: never folded or deduplicated
  std::function<Status(InferenceContext&)> infer;

  static constexpr size_t kUnbounded = static_cast<size_t>(-1);
};

class OpRegistry {
 public:
  // The registry with every op kiln knows (filled once, on first use, from the op table).
  static const OpRegistry& global();

  void add(OpSchema schema);
  // The schema for `op_type` at `opset`, or nullptr.
  const OpSchema* find(const std::string& domain, const std::string& op_type, int opset) const;
  // True if some opset of the op is known (to tell "unknown op" from "unsupported opset").
  bool knows(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> op_types() const;

 private:
  std::map<std::pair<std::string, std::string>, std::vector<OpSchema>> schemas_;
};

// The op table (src/ir/ops/op_table.cpp): one call per op family.
void register_all_ops(OpRegistry& r);

}  // namespace kiln
