// ONNX import: ModelProtos built in code, imported from bytes.
#include <gtest/gtest.h>

#include "onnx/importer.h"
#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;

Result<ImportedModel> import(const onnx::ModelProto& m, const std::string& name = "m.onnx") {
  return import_onnx_bytes(m.SerializeAsString(), name, "");
}

TEST(Importer, ImportsInitializersSymbolsAndValueInfo) {
  onnx::ModelProto m = test::mlp_model(/*symbolic_batch=*/true);
  test::set_type(m.mutable_graph()->add_value_info(), "xw", onnx::TensorProto::FLOAT, {"N", "3"});
  auto r = import(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Graph& g = *r->graph;
  EXPECT_EQ(r->onnx_nodes, 4u);
  EXPECT_EQ(r->ir_version, 8);
  EXPECT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(g.opset_imports.at(""), 17);

  ASSERT_EQ(g.inputs().size(), 1u);  // initializers are constants, not inputs
  const Value* x = g.inputs()[0];
  EXPECT_EQ(x->name(), "x");
  EXPECT_EQ(x->dtype, DataType::kFloat32);
  ASSERT_TRUE(x->shape.has_value());
  EXPECT_EQ(*x->shape, (SymShape{Dim::sym("N"), Dim::known(4)}));

  const Value* w = g.find_value("W");
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->is_constant());
  EXPECT_EQ(w->constant->shape(), (Dims{4, 3}));
  EXPECT_EQ(w->constant->data_as<float>()[1], -1.0f);
  EXPECT_EQ(w->constant->data_as<float>()[11], 0.1f);

  const Value* xw = g.find_value("xw");
  ASSERT_NE(xw, nullptr);
  ASSERT_TRUE(xw->shape.has_value());
  EXPECT_EQ(*xw->shape, (SymShape{Dim::sym("N"), Dim::known(3)}));
  ASSERT_NE(xw->producer(), nullptr);
  EXPECT_EQ(xw->producer()->name, "mm");
  EXPECT_EQ(xw->producer()->op_type, "MatMul");
  EXPECT_EQ(xw->producer()->opset, 17);
  EXPECT_NE(xw->producer()->schema, nullptr);

  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_TRUE(g.verify().ok());
}

TEST(Importer, NodesOutOfOrderAreSorted) {
  onnx::ModelProto m = test::new_model();
  test::add_input(m, "x", {"3"});
  test::add_node(m, "Neg", {"a"}, {"y"}, "second");
  test::add_node(m, "Relu", {"x"}, {"a"}, "first");
  test::add_output(m, "y", {"3"});
  auto r = import(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->graph->verify().ok());
  EXPECT_EQ(r->graph->nodes()[0]->name, "first");
}

TEST(Importer, UnknownOpNamesOpNodeAndOpset) {
  onnx::ModelProto m = test::new_model(8, 16);
  test::add_input(m, "x", {"3"});
  test::add_node(m, "Frobnicate", {"x"}, {"y"}, "frob_1");
  test::add_output(m, "y", {"3"});
  auto r = import(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  const std::string& msg = r.status().message();
  EXPECT_TRUE(contains(msg, "Frobnicate")) << msg;
  EXPECT_TRUE(contains(msg, "frob_1")) << msg;
  EXPECT_TRUE(contains(msg, "16")) << msg;
}

TEST(Importer, OtherDomainRefused) {
  onnx::ModelProto m = test::new_model();
  auto* op = m.add_opset_import();
  op->set_domain("com.microsoft");
  op->set_version(1);
  test::add_input(m, "x", {"3"});
  test::add_node(m, "FusedGelu", {"x"}, {"y"}, "gelu")->set_domain("com.microsoft");
  test::add_output(m, "y", {"3"});
  auto r = import(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(r.status().message(), "com.microsoft")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "gelu")) << r.status().message();
}

TEST(Importer, VersionsTooNew) {
  onnx::ModelProto m = test::mlp_model(false);
  m.set_ir_version(kMaxOnnxIrVersion + 1);
  auto r = import(m, "new.onnx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(r.status().message(), std::to_string(kMaxOnnxIrVersion + 1))) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "new.onnx")) << r.status().message();

  m = test::mlp_model(false);
  m.mutable_opset_import(0)->set_version(kMaxOnnxOpset + 1);
  r = import(m);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "opset " + std::to_string(kMaxOnnxOpset + 1))) << r.status().message();
}

TEST(Importer, UndefinedInputIsNamed) {
  onnx::ModelProto m = test::new_model();
  test::add_input(m, "x", {"3"});
  test::add_node(m, "Add", {"x", "ghost"}, {"y"}, "adder");
  test::add_output(m, "y", {"3"});
  auto r = import(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "'ghost'")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "adder")) << r.status().message();
}

TEST(Importer, DamagedBytesAreAnErrorNotACrash) {
  const std::string bytes = test::mlp_model(false).SerializeAsString();
  auto r = import_onnx_bytes(bytes.substr(0, bytes.size() / 2), "cut.onnx", "");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "cut.onnx")) << r.status().message();
}

}  // namespace
}  // namespace kiln
