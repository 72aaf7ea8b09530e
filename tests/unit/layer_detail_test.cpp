// What `kiln inspect` shows about a fused layer: the op named with its domain, and a detail read
// back from the attributes and optional inputs that docs/fused_ops.md defines for each op.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/layer_detail.h"
#include "ir/graph.h"

namespace kiln {
namespace {

// One node of `op_type` in `domain` with `n_inputs` inputs, of which those in `absent` are left
// out (nullptr), as optional ONNX inputs are.
Node* make_node(Graph& g, const std::string& domain, const std::string& op_type, size_t n_inputs,
                const std::vector<size_t>& absent = {}) {
  std::vector<Value*> ins;
  for (size_t i = 0; i < n_inputs; ++i) {
    const bool left_out = std::find(absent.begin(), absent.end(), i) != absent.end();
    ins.push_back(left_out ? nullptr : g.add_value("in" + std::to_string(i)));
  }
  return g.add_node(op_type, ins, {g.add_value("y")}, "layer", domain);
}

TEST(LayerDetail, OpNameCarriesTheDomainOutsideOnnx) {
  Graph g;
  EXPECT_EQ(layer_op_name(*make_node(g, "kiln", "FusedConv", 2)), "kiln.FusedConv");
  Graph g2;
  EXPECT_EQ(layer_op_name(*make_node(g2, "", "Conv", 2)), "Conv");
  Graph g3;
  EXPECT_EQ(layer_op_name(*make_node(g3, "ai.onnx", "Gelu", 1)), "Gelu");
}

TEST(LayerDetail, FusedConvListsItsEpilogueInOrder) {
  {
    Graph g;
    Node* n = make_node(g, "kiln", "FusedConv", 3);
    n->attrs.set_string("activation", "Relu");
    EXPECT_EQ(layer_detail(*n), "bias+Relu");
  }
  {
    // ResNet's Conv -> BN -> Add(shortcut) -> Relu: the Relu comes after the residual add.
    Graph g;
    Node* n = make_node(g, "kiln", "FusedConv", 4);
    n->attrs.set_string("post_activation", "Relu");
    EXPECT_EQ(layer_detail(*n), "bias+add+Relu");
  }
  {
    Graph g;
    Node* n = make_node(g, "kiln", "FusedConv", 4, {2});
    n->attrs.set_string("activation", "Clip");
    n->attrs.set_float("activation_alpha", 0);
    n->attrs.set_float("activation_beta", 6);
    n->attrs.set_string("post_activation", "LeakyRelu");
    n->attrs.set_float("post_activation_alpha", 0.25f);
    EXPECT_EQ(layer_detail(*n), "Clip(0,6)+add+LeakyRelu(0.25)");
  }
  {
    Graph g;
    EXPECT_EQ(layer_detail(*make_node(g, "kiln", "FusedConv", 2)), "");
  }
}

TEST(LayerDetail, FusedMatMulShowsTranspositionAndScale) {
  Graph g;
  Node* n = make_node(g, "kiln", "FusedMatMul", 3);
  n->attrs.set_int("trans_b", 1);
  n->attrs.set_float("alpha", 0.5f);
  n->attrs.set_string("activation", "Gelu");
  EXPECT_EQ(layer_detail(*n), "transB alpha=0.5 bias+Gelu");
  Graph g2;
  Node* plain = make_node(g2, "kiln", "FusedMatMul", 2);
  plain->attrs.set_int("trans_a", 1);
  EXPECT_EQ(layer_detail(*plain), "transA");
}

TEST(LayerDetail, FusedPointwiseListsItsSteps) {
  Graph g;
  Node* n = make_node(g, "kiln", "FusedPointwise", 3);
  Attribute ops;
  ops.kind = Attribute::Kind::kStrings;
  ops.strings = {"Mul", "Sub", "Relu"};
  n->attrs.set("ops", ops);
  n->attrs.set_ints("operands", {1, 2, 0});
  n->attrs.set_ints("swapped", {0, 1, 0});
  EXPECT_EQ(layer_detail(*n), "Mul>Sub(r)>Relu");
}

TEST(LayerDetail, AttentionShowsHeadsMaskAndCausal) {
  Graph g;
  Node* n = make_node(g, "kiln", "Attention", 4);
  n->attrs.set_int("num_heads", 12);
  EXPECT_EQ(layer_detail(*n), "heads=12 mask");
  Graph g2;
  Node* c = make_node(g2, "kiln", "Attention", 3);
  c->attrs.set_int("num_heads", 4);
  c->attrs.set_int("causal", 1);
  EXPECT_EQ(layer_detail(*c), "heads=4 causal");
}

TEST(LayerDetail, OnnxGeluAndNormalizations) {
  Graph g;
  Node* tanh = make_node(g, "", "Gelu", 1);
  tanh->attrs.set_string("approximate", "tanh");
  EXPECT_EQ(layer_detail(*tanh), "tanh");
  Graph g2;
  EXPECT_EQ(layer_detail(*make_node(g2, "", "Gelu", 1)), "");
  Graph g3;
  Node* ln = make_node(g3, "", "LayerNormalization", 3);
  EXPECT_EQ(layer_detail(*ln), "");
  ln->attrs.set_int("axis", 1);
  EXPECT_EQ(layer_detail(*ln), "axis=1");
  Graph g4;
  Node* rms = make_node(g4, "kiln", "RMSNormalization", 2);
  rms->attrs.set_int("axis", -2);
  EXPECT_EQ(layer_detail(*rms), "axis=-2");
  Graph g5;
  EXPECT_EQ(layer_detail(*make_node(g5, "", "Conv", 3)), "");
}

}  // namespace
}  // namespace kiln
