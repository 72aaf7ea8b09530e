// ModelProtos built in code for the importer, engine and runtime tests.
#pragma once

#include <cctype>
#include <string>
#include <vector>

#include "onnx/onnx-ml.pb.h"

namespace kiln::test {

inline onnx::ModelProto new_model(int64_t ir_version = 8, int64_t opset = 17) {
  onnx::ModelProto m;
  m.set_ir_version(ir_version);
  m.set_producer_name("kiln-tests");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

// dims: "3" is a fixed dim, "N" a symbolic one.
inline void set_type(onnx::ValueInfoProto* vi, const std::string& name, int elem_type, const std::vector<std::string>& dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const std::string& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) dim->set_dim_value(std::stoll(d));
    else dim->set_dim_param(d);
  }
}

inline void add_input(onnx::ModelProto& m, const std::string& name, const std::vector<std::string>& dims,
                      int elem_type = onnx::TensorProto::FLOAT) {
  set_type(m.mutable_graph()->add_input(), name, elem_type, dims);
}
inline void add_output(onnx::ModelProto& m, const std::string& name, const std::vector<std::string>& dims,
                       int elem_type = onnx::TensorProto::FLOAT) {
  set_type(m.mutable_graph()->add_output(), name, elem_type, dims);
}

inline void add_initializer(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<float>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

inline onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op_type, const std::vector<std::string>& ins,
                                 const std::vector<std::string>& outs, const std::string& name) {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op_type);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

// y = Sigmoid(Relu(x @ W + b)), x: float[N, 4] (or fixed [2, 4]), W: [4, 3], b: [3].
inline onnx::ModelProto mlp_model(bool symbolic_batch) {
  onnx::ModelProto m = new_model();
  const std::string batch = symbolic_batch ? "N" : "2";
  add_input(m, "x", {batch, "4"});
  add_initializer(m, "W", {4, 3}, {0.5f, -1, 2, 0.25f, 1.5f, -0.5f, -2, 1, 0.75f, 3, -1.25f, 0.1f});
  add_initializer(m, "b", {3}, {0.1f, -0.2f, 0.3f});
  add_node(m, "MatMul", {"x", "W"}, {"xw"}, "mm");
  add_node(m, "Add", {"xw", "b"}, {"xwb"}, "bias");
  add_node(m, "Relu", {"xwb"}, {"r"}, "relu");
  add_node(m, "Sigmoid", {"r"}, {"y"}, "sig");
  add_output(m, "y", {batch, "3"});
  return m;
}

}  // namespace kiln::test
