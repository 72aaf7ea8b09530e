#include <limits>

#include "passes/pattern.h"
#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"narrow-attention-masks"};

constexpr int64_t kSeq = 5, kHeads = 2, kHeadDim = 4, kHidden = kHeads * kHeadDim;

Tensor bools(Dims dims, const std::function<bool(int64_t)>& value) {
  Tensor t = *Tensor::allocate(DataType::kBool, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<bool>()[i] = value(i);
  return t;
}

struct MaskOptions {
  bool gather_nd = false;          // the key mask read by GatherND (batch 2) instead of Unsqueeze (symbolic batch)
  bool expand_only = false;        // mask = Expand(float [B, 1, 1, S] input) straight into the Attention
  bool false_in_constant = false;  // And's constant holds a false: must not narrow
  bool per_query = false;          // the kept pairs are a [B, 1, S, S] input: must not narrow
  bool wide_branch = false;        // Where's "then" branch is a [B, 1, S, S] input: must not narrow
  bool mask_is_output = false;     // the wide mask is a graph output too (must stay)
  int attentions = 1;              // Attentions reading the one mask
  bool unfused = false;            // MatMul/Div/Add/Softmax/MatMul with head split and merge, for fuse-attention
};

// The mask as PyTorch's dynamo exporter builds BERT's: attention_mask [B, S] int64 -> Cast to
// bool -> [B, 1, 1, S] (GatherND or Unsqueeze) -> And(all-true [1, 1, S, 1], ·) [B, 1, S, S] ->
// Where(·, 0, float32 lowest), read by fused Attentions over q, k, v [B, S, 8] with 2 heads.
GraphMaker masked_attention(MaskOptions o) {
  return [=] {
    TestGraph b;
    const Dim batch = o.gather_nd ? Dim::known(2) : Dim::sym("batch");
    const SymShape bsh{batch, Dim::known(kSeq), Dim::known(kHidden)};
    Value* q = b.input("q", bsh);
    Value* k = b.input("k", bsh);
    Value* v = b.input("v", bsh);
    Value* mask = nullptr;
    if (o.expand_only) {
      Value* key_mask = b.input("key_mask", {batch, Dim::known(1), Dim::known(1), Dim::known(kSeq)});
      mask = b.op("Expand", {key_mask, b.ints({1, 1, kSeq, kSeq})});
    } else {
      Value* ids_mask = b.input("attention_mask", {batch, Dim::known(kSeq)}, DataType::kInt64);
      Value* keys = b.op("Cast", {ids_mask}, [](Attributes& a) { a.set_int("to", static_cast<int64_t>(DataType::kBool)); });
      if (o.gather_nd) {
        // indices [2, 1, 1, S, 2] = (batch, key), keys read in reverse order.
        std::vector<int64_t> idx;
        for (int64_t bi = 0; bi < 2; ++bi) {
          for (int64_t j = 0; j < kSeq; ++j) idx.insert(idx.end(), {bi, kSeq - 1 - j});
        }
        keys = b.op("GatherND", {keys, b.constant("indices", i64({2, 1, 1, kSeq, 2}, idx))});
      } else {
        keys = b.op("Unsqueeze", {keys, b.ints({1, 2})});
      }
      Value* all = b.constant("bitwise_and", bools({1, 1, kSeq, 1}, [&](int64_t i) { return !(o.false_in_constant && i == 2); }));
      Value* keep = o.per_query ? b.op("And", {b.input("pair_keep", {batch, Dim::known(1), Dim::known(kSeq), Dim::known(kSeq)},
                                                        DataType::kBool),
                                                all})
                                : b.op("And", {all, keys});
      Value* then = o.wide_branch ? b.input("bias", {batch, Dim::known(1), Dim::known(kSeq), Dim::known(kSeq)}) : b.scalar(0);
      mask = b.op("Where", {keep, then, b.scalar(std::numeric_limits<float>::lowest())});
    }
    if (o.mask_is_output) b.output(mask);
    if (o.unfused) {
      auto heads = [&](Value* x, std::vector<int64_t> perm) {
        Value* r = b.op("Reshape", {x, b.ints({-1, kSeq, kHeads, kHeadDim})}, [](Attributes& a) { a.set_int("allowzero", 1); });
        return b.op("Transpose", {r}, [&](Attributes& a) { a.set_ints("perm", perm); });
      };
      Value* s = b.op("Div", {b.op("MatMul", {heads(q, {0, 2, 1, 3}), heads(k, {0, 2, 3, 1})}), b.scalar(2)});
      Value* p = b.op("Softmax", {b.op("Add", {s, mask})}, [](Attributes& a) { a.set_int("axis", -1); });
      Value* ctx = b.op("Transpose", {b.op("MatMul", {p, heads(v, {0, 2, 1, 3})})}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1, 3}); });
      b.output(b.op("Reshape", {ctx, b.ints({-1, kSeq, kHidden})}, [](Attributes& a) { a.set_int("allowzero", 1); }));
      return b.take();
    }
    b.g->opset_imports["kiln"] = 1;
    for (int i = 0; i < o.attentions; ++i) {
      Value* out = b.g->add_value(b.g->unique_name("context"));
      // The second Attention swaps q and k so the two differ.
      Node* n = b.g->add_node("Attention", {i % 2 ? k : q, i % 2 ? q : k, v, mask}, {out}, b.g->unique_name("attention"), "kiln");
      n->opset = 1;
      n->fused_from = {n->name};
      n->schema = OpRegistry::global().find("kiln", "Attention", 1);
      n->attrs.set_int("num_heads", kHeads);
      b.output(out);
    }
    return b.take();
  };
}

struct NarrowRun {
  std::string error;
  std::vector<std::string> ops;          // after the pass
  std::vector<MaybeShape> mask_shapes;   // each Attention's mask after the pass
  std::vector<std::string> mask_names;
  std::vector<std::string> output_names;
};

// Runs the pass on one copy of make()'s graph and checks it verifies; then, on the reference and
// the cpu backend (built without other passes), runs both copies on the same inputs and requires
// every output to keep its bits.
NarrowRun narrow_and_compare(const GraphMaker& make, const std::map<std::string, int64_t>& sym = {}) {
  NarrowRun r;
  auto fail = [&r](const std::string& message) {
    r.error = message;
    return r;
  };
  const NamedTensors feeds = random_feeds(*make(), 11, sym);
  for (const char* backend : {"reference", "cpu"}) {
    BuilderConfig plain = quiet_config();
    plain.backend = backend;
    plain.opt_level = 0;
    auto g = make();
    if (Status s = optimize_with_only(*g, kPass); !s.ok()) return fail(s.message());
    if (Status s = g->verify(); !s.ok()) return fail("verify: " + s.message());
    r.ops.clear();
    r.mask_shapes.clear();
    r.mask_names.clear();
    r.output_names.clear();
    for (const auto& n : g->nodes()) {
      r.ops.push_back(n->domain.empty() ? n->op_type : n->domain + "." + n->op_type);
      if (n->op_type == "Attention") {
        r.mask_shapes.push_back(n->input(3)->shape);
        r.mask_names.push_back(n->input(3)->name());
      }
    }
    for (const Value* out : g->outputs()) r.output_names.push_back(out->name());
    auto before = build(make(), plain);
    auto after = build(std::move(g), plain);
    if (!before.ok() || !after.ok()) {
      return fail(std::string(backend) + " build: " + (!before.ok() ? before : after).status().message());
    }
    auto want = run_engine(*before, feeds);
    auto got = run_engine(*after, feeds);
    if (!want.ok() || !got.ok()) return fail(std::string(backend) + " run: " + (!want.ok() ? want : got).status().message());
    for (const auto& [name, a] : *want) {
      auto found = got->find(name);
      if (found == got->end()) return fail(std::string(backend) + ": output " + name + " is missing");
      if (!same_bits(a, found->second)) return fail(std::string(backend) + ": output " + name + " changed");
    }
  }
  return r;
}

bool is_key_mask_shape(const MaybeShape& s, const Dim& batch) {
  return same_shape(s, SymShape{batch, Dim::known(1), Dim::known(1), Dim::known(kSeq)});
}

TEST(NarrowAttentionMasks, DynamoBertMaskThroughGatherNdBecomesAKeyMask) {
  MaskOptions o;
  o.gather_nd = true;
  NarrowRun r = narrow_and_compare(masked_attention(o));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.mask_shapes.size(), 1u);
  EXPECT_TRUE(is_key_mask_shape(r.mask_shapes[0], Dim::known(2))) << shape_to_string(r.mask_shapes[0]);
  // The wide And/Where were read by the Attention alone: dead now, gone.
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Cast", "GatherND", "Where", "kiln.Attention"}));
}

TEST(NarrowAttentionMasks, SymbolicBatchThroughUnsqueeze) {
  NarrowRun r = narrow_and_compare(masked_attention({}), {{"batch", 3}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.mask_shapes.size(), 1u);
  EXPECT_TRUE(is_key_mask_shape(r.mask_shapes[0], Dim::sym("batch"))) << shape_to_string(r.mask_shapes[0]);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Cast", "Unsqueeze", "Where", "kiln.Attention"}));
}

TEST(NarrowAttentionMasks, OneNarrowMaskSharedByEveryAttention) {
  MaskOptions o;
  o.attentions = 3;
  NarrowRun r = narrow_and_compare(masked_attention(o), {{"batch", 2}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.mask_shapes.size(), 3u);
  for (const MaybeShape& s : r.mask_shapes) EXPECT_TRUE(is_key_mask_shape(s, Dim::sym("batch"))) << shape_to_string(s);
  EXPECT_EQ(r.mask_names[1], r.mask_names[0]);
  EXPECT_EQ(r.mask_names[2], r.mask_names[0]);
  EXPECT_EQ(std::count(r.ops.begin(), r.ops.end(), "Where"), 1);
}

TEST(NarrowAttentionMasks, AWideMaskThatIsAGraphOutputStays) {
  MaskOptions o;
  o.mask_is_output = true;
  NarrowRun r = narrow_and_compare(masked_attention(o), {{"batch", 2}});
  ASSERT_TRUE(r.error.empty()) << r.error;  // the wide mask output keeps its bits too
  ASSERT_EQ(r.mask_shapes.size(), 1u);
  EXPECT_TRUE(is_key_mask_shape(r.mask_shapes[0], Dim::sym("batch"))) << shape_to_string(r.mask_shapes[0]);
  EXPECT_EQ(std::count(r.ops.begin(), r.ops.end(), "Where"), 2);  // the output's and the Attention's
  EXPECT_EQ(std::count(r.ops.begin(), r.ops.end(), "And"), 1);
  EXPECT_NE(std::find(r.output_names.begin(), r.output_names.end(), "Where_out"), r.output_names.end());
}

TEST(NarrowAttentionMasks, AnExpandStraightIntoTheAttentionIsSkipped) {
  MaskOptions o;
  o.expand_only = true;
  NarrowRun r = narrow_and_compare(masked_attention(o), {{"batch", 2}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.mask_names, (std::vector<std::string>{"key_mask"}));
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.Attention"}));
}

// The cases that must be left alone: the Attention still reads the [B, 1, S, S] Where.
void expect_not_narrowed(const MaskOptions& o) {
  NarrowRun r = narrow_and_compare(masked_attention(o), {{"batch", 2}});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.mask_shapes.size(), 1u);
  EXPECT_TRUE(same_shape(r.mask_shapes[0], SymShape{Dim::sym("batch"), Dim::known(1), Dim::known(kSeq), Dim::known(kSeq)}))
      << shape_to_string(r.mask_shapes[0]);
  EXPECT_EQ(r.mask_names, (std::vector<std::string>{"Where_out"}));
  EXPECT_EQ(std::count(r.ops.begin(), r.ops.end(), "Where"), 1);
}

TEST(NarrowAttentionMasks, NotWhenTheAndConstantHoldsAFalse) {
  MaskOptions o;
  o.false_in_constant = true;
  expect_not_narrowed(o);
}

TEST(NarrowAttentionMasks, NotWhenTheMaskVariesAlongQueries) {
  MaskOptions o;
  o.per_query = true;
  expect_not_narrowed(o);
}

TEST(NarrowAttentionMasks, NotWhenAWhereBranchIsWide) {
  MaskOptions o;
  o.wide_branch = true;
  expect_not_narrowed(o);
}

// The whole optimizer on the cpu backend, as `kiln build` runs it: fuse-attention makes the
// Attention with the wide Where as its mask, then this pass narrows it.
TEST(NarrowAttentionMasks, TheDefaultBuildGivesTheFusedAttentionAKeyMask) {
  MaskOptions o;
  o.unfused = true;
  const GraphMaker make = masked_attention(o);
  const NamedTensors feeds = random_feeds(*make(), 5, {{"batch", 3}});
  BuilderConfig full = quiet_config();
  full.backend = "cpu";
  auto optimized = build(make(), full);
  ASSERT_TRUE(optimized.ok()) << optimized.status().message();
  int attentions = 0;
  for (const LayerInfo& l : optimized->info().layers) {
    if (l.op != "kiln.Attention") continue;
    ++attentions;
    ASSERT_EQ(l.input_types.size(), 4u);
    EXPECT_EQ(l.input_types[3], "float32[batch,1,1,5]");
  }
  EXPECT_EQ(attentions, 1);
  BuilderConfig plain = quiet_config();
  plain.opt_level = 0;
  auto reference = build(make(), plain);
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  auto want = run_engine(*reference, feeds);
  auto got = run_engine(*optimized, feeds);
  ASSERT_TRUE(want.ok() && got.ok()) << (!want.ok() ? want : got).status().message();
  for (const auto& [name, a] : *want) {
    const Tensor& b = got->at(name);
    ASSERT_EQ(a.shape(), b.shape());
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(a.data_as<float>()[i])));
      diff = std::max(diff, std::abs(static_cast<double>(a.data_as<float>()[i]) - b.data_as<float>()[i]));
    }
    EXPECT_LE(diff, 1e-5 * scale) << name;
  }
}

}  // namespace
}  // namespace kiln::test
