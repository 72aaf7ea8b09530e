#include "ir/ops/fused/fused_util.h"
#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"pack-qkv-attention"};

// E = 32 over 4 heads of 8.
constexpr int64_t kE = 32;

// A kiln.Attention node as fuse-attention leaves it (absent inputs as nullptr).
Node* attention(TestGraph& b, std::vector<Value*> ins, int64_t heads = 4, int64_t causal = 0) {
  b.g->opset_imports[kKilnDomain] = 1;
  Value* y = b.g->add_value(b.g->unique_name("attn_out"));
  Node* n = b.g->add_node("Attention", std::move(ins), {y}, b.g->unique_name("attn"), kKilnDomain);
  n->opset = 1;
  n->fused_from = {n->name};
  n->schema = OpRegistry::global().find(kKilnDomain, "Attention", 1);
  n->attrs.set_int("num_heads", heads);
  if (causal) n->attrs.set_int("causal", 1);
  return n;
}

enum class SplitForm {
  kSizesInput,   // opset 17: input 'split' = [E, E, E]
  kNoSizes,      // opset 17: no sizes, three outputs (equal parts)
  kAttribute,    // opset 11: attribute 'split'
  kNumOutputs,   // opset 18: num_outputs = 3
};

struct Options {
  SplitForm form = SplitForm::kSizesInput;
  bool mask = true;
  int64_t causal = 0;
  int64_t axis = -1;
  std::vector<int64_t> sizes = {kE, kE, kE};  // for kSizesInput / kAttribute
  bool v_also_read = false;   // a Relu reads the V part too
  bool k_is_output = false;   // the K part is a graph output too
  bool swap_q_k = false;      // the Attention reads the parts in another order
};

// x [batch, seq, 16] -> MatMul(W [16, 3E]) + bias -> Split -> Attention(q, k, v [, mask]).
// With axis = 1 the projection is [batch, 15, E] and the Split cuts the sequence instead.
GraphMaker qkv_graph(Options o) {
  return [=] {
    TestGraph b(o.form == SplitForm::kAttribute ? 11 : (o.form == SplitForm::kNumOutputs ? 18 : 17));
    const bool along_seq = o.axis == 1;
    const int64_t width = along_seq ? kE : 3 * kE;
    Value* x = b.input("x", {Dim::sym("batch"), along_seq ? Dim::known(15) : Dim::sym("seq"), Dim::known(16)});
    Value* p = b.op("Add", {b.op("MatMul", {x, b.random("w", {16, width})}), b.random("bias", {width})});
    std::vector<Value*> ins = {p};
    if (o.form == SplitForm::kSizesInput) ins.push_back(b.ints(o.sizes));
    std::vector<Value*> parts = b.ops("Split", ins, 3, [&](Attributes& a) {
      a.set_int("axis", o.axis);
      if (o.form == SplitForm::kAttribute) a.set_ints("split", o.sizes);
      if (o.form == SplitForm::kNumOutputs) a.set_int("num_outputs", 3);
    });
    if (o.swap_q_k) std::swap(parts[0], parts[1]);
    std::vector<Value*> att_ins = parts;
    if (o.mask) {
      const Dim keys = along_seq ? Dim::known(5) : Dim::sym("seq");
      att_ins.push_back(b.input("mask", {Dim::sym("batch"), Dim::known(1), Dim::known(1), keys}));
    }
    Node* att = attention(b, att_ins, 4, o.causal);
    b.output(att->output(0));
    if (o.v_also_read) b.output(b.op("Relu", {parts[2]}));
    if (o.k_is_output) b.output(parts[1]);
    return b.take();
  };
}

const std::map<std::string, int64_t> kSizes{{"batch", 2}, {"seq", 7}};

// The Attention node's position in r.ops.
size_t attention_index(const PassRun& r) {
  for (size_t i = 0; i < r.ops.size(); ++i) {
    if (r.ops[i] == "kiln.Attention") return i;
  }
  return r.ops.size();
}

TEST(PackQkvAttention, SplitOfTheProjectionBecomesAPackedAttention) {
  PassRun r = run_passes_on(qkv_graph({}), kPass, kSizes);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MatMul", "Add", "kiln.Attention"}));
  const size_t a = attention_index(r);
  ASSERT_LT(a, r.ops.size());
  ASSERT_EQ(r.inputs[a].size(), 4u);
  EXPECT_EQ(r.inputs[a][0].rfind("Add_out", 0), 0u) << "QKV is the projection itself: " << r.inputs[a][0];
  EXPECT_EQ(r.inputs[a][1], "") << "K is read from QKV";
  EXPECT_EQ(r.inputs[a][2], "") << "V is read from QKV";
  EXPECT_EQ(r.inputs[a][3], "mask");
}

TEST(PackQkvAttention, EverySplitFormCausalAndNoMask) {
  for (SplitForm form : {SplitForm::kSizesInput, SplitForm::kNoSizes, SplitForm::kAttribute, SplitForm::kNumOutputs}) {
    for (bool mask : {false, true}) {
      SCOPED_TRACE(static_cast<int>(form) * 2 + mask);
      Options o;
      o.form = form;
      o.mask = mask;
      o.causal = mask ? 0 : 1;
      o.axis = form == SplitForm::kAttribute ? 2 : -1;  // rank - 1 counts as the last axis too
      PassRun r = run_passes_on(qkv_graph(o), kPass, kSizes);
      EXPECT_PASS_RUN_OK(r, 1e-6);
      EXPECT_EQ(r.count("Split"), 0u);
      EXPECT_EQ(r.count("kiln.Attention"), 1u);
    }
  }
}

// With the passes that run before it: three projections merged into one MatMul and a Split, the
// Split packed, the bias an epilogue: one FusedMatMul and the Attention remain.
GraphMaker three_projections() {
  return [] {
    TestGraph b;
    Value* x = b.input("x", {Dim::sym("batch"), Dim::sym("seq"), Dim::known(16)});
    std::vector<Value*> qkv;
    for (int i = 0; i < 3; ++i) qkv.push_back(b.op("Add", {b.op("MatMul", {x, b.random("w", {16, kE})}), b.random("b", {kE})}));
    qkv.push_back(b.input("mask", {Dim::sym("batch"), Dim::known(1), Dim::known(1), Dim::sym("seq")}));
    b.output(attention(b, qkv)->output(0));
    return b.take();
  };
}

TEST(PackQkvAttention, AfterMergingTheProjections) {
  PassRun r = run_passes_on(three_projections(), {"merge-qkv-projections", "pack-qkv-attention", "fuse-matmul-epilogue"},
                            kSizes);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.FusedMatMul", "kiln.Attention"}));
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_EQ(r.inputs[1][1], "");
  EXPECT_EQ(r.inputs[1][2], "");
}

TEST(PackQkvAttention, NotWhenAPartIsReadElsewhere) {
  Options o;
  o.v_also_read = true;
  PassRun r = run_passes_on(qkv_graph(o), kPass, kSizes);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Split"), 1u);
  const size_t a = attention_index(r);
  ASSERT_LT(a, r.ops.size());
  EXPECT_NE(r.inputs[a][1], "");
  EXPECT_NE(r.inputs[a][2], "");
}

TEST(PackQkvAttention, NotWhenAPartIsAGraphOutput) {
  Options o;
  o.k_is_output = true;
  PassRun r = run_passes_on(qkv_graph(o), kPass, kSizes);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Split"), 1u);
}

TEST(PackQkvAttention, NotForUnequalParts) {
  // [16, 16, 64]: Q and K of 16 (4 heads of 4), V of 64 (4 heads of 16); the Attention is valid.
  Options o;
  o.sizes = {16, 16, 64};
  for (SplitForm form : {SplitForm::kSizesInput, SplitForm::kAttribute}) {
    o.form = form;
    PassRun r = run_passes_on(qkv_graph(o), kPass, kSizes);
    EXPECT_PASS_RUN_OK(r, 1e-6);
    EXPECT_EQ(r.count("Split"), 1u);
  }
}

TEST(PackQkvAttention, NotForASplitAlongAnotherAxis) {
  // [batch, 15, E] cut along the sequence into three [batch, 5, E].
  Options o;
  o.axis = 1;
  o.sizes = {5, 5, 5};
  PassRun r = run_passes_on(qkv_graph(o), kPass, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Split"), 1u);
}

TEST(PackQkvAttention, NotWhenThePartsFeedOtherInputs) {
  Options o;
  o.swap_q_k = true;
  PassRun r = run_passes_on(qkv_graph(o), kPass, kSizes);
  EXPECT_PASS_RUN_OK(r, 1e-6);
  EXPECT_EQ(r.count("Split"), 1u);
}

}  // namespace
}  // namespace kiln::test
