// Small helpers shared by the unit tests: graphs built in code, engines built from them, tensors
// from literals.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "builder/builder.h"
#include "ir/graph.h"
#include "ir/op_schema.h"
#include "kiln/kiln.h"

namespace kiln::test {

// A node with its opset and schema set, as the importer leaves them.
inline Node* op(Graph& g, const std::string& op_type, std::vector<Value*> ins, std::vector<Value*> outs,
                const std::string& name = "") {
  Node* n = g.add_node(op_type, std::move(ins), std::move(outs), name.empty() ? g.unique_name(op_type) : name);
  n->opset = g.opset_imports.count("") ? g.opset_imports.at("") : 17;
  n->fused_from = {n->name};
  n->schema = OpRegistry::global().find("", op_type, n->opset);
  return n;
}

inline std::unique_ptr<Graph> new_graph(int opset = 17) {
  auto g = std::make_unique<Graph>();
  g->name = "main";
  g->opset_imports[""] = opset;
  return g;
}

inline Value* input(Graph& g, const std::string& name, DataType t, SymShape shape) {
  Value* v = g.add_value(name, t, std::move(shape));
  g.add_input(v);
  return v;
}

// The unit tests build for the reference backend (the oracle) unless they say otherwise, and
// keep float32 products exact on the cuda backend (no TF32) so it can be held to the reference.
inline BuilderConfig quiet_config() {
  BuilderConfig c;
  c.backend = "reference";
  c.show_progress = false;
  c.allow_tf32 = false;
  return c;
}

inline Result<Engine> build(std::unique_ptr<Graph> g, const BuilderConfig& config = quiet_config()) {
  BuildInput in;
  in.graph = std::move(g);
  in.source_name = "test";
  KILN_ASSIGN_OR_RETURN(auto state, build_engine(std::move(in), config));
  return Engine(std::move(state));
}

inline Tensor f32(Dims dims, const std::vector<float>& values) {
  auto t = Tensor::allocate(DataType::kFloat32, std::move(dims));
  if (!t.ok()) std::abort();
  if (!values.empty()) {
    for (int64_t i = 0; i < t->numel(); ++i) t->data_as<float>()[i] = values[static_cast<size_t>(i) % values.size()];
  }
  return *t;
}

inline Tensor i64(Dims dims, const std::vector<int64_t>& values) {
  auto t = Tensor::allocate(DataType::kInt64, std::move(dims));
  if (!t.ok()) std::abort();
  for (int64_t i = 0; i < t->numel(); ++i) t->data_as<int64_t>()[i] = values[static_cast<size_t>(i) % values.size()];
  return *t;
}

inline std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  if (!v.empty()) std::memcpy(v.data(), t.data(), v.size() * sizeof(float));
  return v;
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace kiln::test
