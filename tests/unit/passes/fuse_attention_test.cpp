#include <cmath>
#include <limits>

#include "unit/passes/pass_test_util.h"

namespace kiln::test {
namespace {

const std::vector<std::string> kPass{"fuse-attention"};

struct AttnOptions {
  bool mask = true;
  bool k_two_transposes = false;  // Transpose(0213) then Transpose(0132), as newer exporters
  bool scale_by_mul = false;
  bool expose_scores = false;     // scores also a graph output: must not fuse
  int64_t v_heads = 4;            // != 4: V split differently, must not fuse
};

// Attention over q, k, v [batch, seq, 32] with 4 heads, the head split's Reshape target
// computed from Shape/Gather/Unsqueeze/Concat as exporters write it.
GraphMaker attention(AttnOptions o) {
  return [=] {
    TestGraph b;
    const SymShape bsh{Dim::sym("batch"), Dim::sym("seq"), Dim::known(32)};
    Value* q = b.input("q", bsh);
    Value* k = b.input("k", bsh);
    Value* v = b.input("v", bsh);
    auto dim = [&](Value* x, int64_t i) {
      Value* g = b.op("Gather", {b.op("Shape", {x}), b.constant("i", i64({}, {i}))}, [](Attributes& a) { a.set_int("axis", 0); });
      return b.op("Unsqueeze", {g, b.ints({0})});
    };
    auto split = [&](Value* x, int64_t heads, std::vector<int64_t> perm) {
      Value* shape = b.op("Concat", {dim(x, 0), dim(x, 1), b.ints({heads}), b.ints({32 / heads})}, [](Attributes& a) { a.set_int("axis", 0); });
      Value* r = b.op("Reshape", {x, shape});
      return b.op("Transpose", {r}, [&](Attributes& a) { a.set_ints("perm", perm); });
    };
    Value* qh = split(q, 4, {0, 2, 1, 3});
    Value* kt = o.k_two_transposes
                    ? b.op("Transpose", {split(k, 4, {0, 2, 1, 3})}, [](Attributes& a) { a.set_ints("perm", {0, 1, 3, 2}); })
                    : split(k, 4, {0, 2, 3, 1});
    Value* vh = split(v, o.v_heads, {0, 2, 1, 3});
    Value* s = b.op("MatMul", {qh, kt});
    if (o.expose_scores) b.output(s);
    s = o.scale_by_mul ? b.op("Mul", {s, b.scalar(1 / std::sqrt(8.0f))}) : b.op("Div", {s, b.scalar(std::sqrt(8.0f))});
    if (o.mask) s = b.op("Add", {s, b.input("mask", {Dim::sym("batch"), Dim::known(1), Dim::known(1), Dim::sym("seq")})});
    Value* p = b.op("Softmax", {s}, [](Attributes& a) { a.set_int("axis", -1); });
    Value* ctx = b.op("Transpose", {b.op("MatMul", {p, vh})}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1, 3}); });
    Value* shape = b.op("Concat", {dim(ctx, 0), dim(ctx, 1), b.ints({32})}, [](Attributes& a) { a.set_int("axis", 0); });
    b.output(b.op("Reshape", {ctx, shape}));
    return b.take();
  };
}

TEST(FuseAttention, BertStyleWithMaskAndSymbolicDims) {
  PassRun r = run_passes_on(attention({}), kPass, {{"batch", 2}, {"seq", 5}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.Attention"}));
}

TEST(FuseAttention, KeyTransposedTwiceScaledByMulNoMask) {
  AttnOptions o;
  o.k_two_transposes = true;
  o.scale_by_mul = true;
  o.mask = false;
  PassRun r = run_passes_on(attention(o), kPass, {{"batch", 1}, {"seq", 6}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"kiln.Attention"}));
}

TEST(FuseAttention, NotWhenTheScoresAreReadElsewhere) {
  AttnOptions o;
  o.expose_scores = true;
  PassRun r = run_passes_on(attention(o), kPass);
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("kiln.Attention"), 0u);
  EXPECT_EQ(r.count("Softmax"), 1u);
}

TEST(FuseAttention, NotWhenValueHeadsDiffer) {
  AttnOptions o;
  o.v_heads = 2;
  // 4 query heads against 2 value heads does not even multiply; build must fail in both copies
  // or the pass must leave it. Only the pass's restraint is checked here.
  PassRun r = run_passes_on(attention(o), kPass);
  EXPECT_EQ(r.count("kiln.Attention"), 0u);
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

TEST(FuseAttention, AShapeReadOfTheContextUsedElsewhereIsRedirected) {
  // The head merge reads batch and sequence sizes from the attention context (Shape reads need
  // no data); here a read also feeds a graph output, so it must survive the fusion, now read
  // from q's shape.
  PassRun r = run_passes_on(
      [] {
        auto g = attention({})();
        Value* out = g->outputs()[0];
        Node* merge = out->producer();
        Value* ctx = merge->input(0);
        for (const Use& u : ctx->uses()) {
          if (u.node->op_type == "Shape") {
            g->add_output(u.node->output(0)->uses()[0].node->output(0));  // Gather(Shape(ctx), 0)
            break;
          }
        }
        return g;
      },
      kPass, {{"batch", 2}, {"seq", 5}});
  EXPECT_PASS_RUN_OK(r, 1e-5);  // and the int64 size output exactly equal
  EXPECT_EQ(r.count("kiln.Attention"), 1u);
  const size_t i = static_cast<size_t>(std::find(r.ops.begin(), r.ops.end(), "Shape") - r.ops.begin());
  ASSERT_LT(i, r.ops.size());
  EXPECT_EQ(r.inputs[i], (std::vector<std::string>{"q"}));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// GPT-2 as Hugging Face exports it with a causal buffer: Where(tril[.., Sk-Sq:Sk, :Sk], scores,
// float32 lowest); the slice bounds are read from the scores' own shape.
std::unique_ptr<Graph> causal_where_attention() {
  TestGraph b;
  const SymShape bsh{Dim::sym("batch"), Dim::sym("seq"), Dim::known(16)};
  Value* q = b.input("q", bsh);
  Value* k = b.input("k", bsh);
  Value* v = b.input("v", bsh);
  auto gather = [&](Value* shape, int64_t i) {
    return b.op("Gather", {shape, b.constant("i", i64({}, {i}))}, [](Attributes& a) { a.set_int("axis", 0); });
  };
  auto unsq = [&](Value* x) { return b.op("Unsqueeze", {x, b.ints({0})}); };
  auto concat = [&](std::vector<Value*> xs) { return b.op("Concat", std::move(xs), [](Attributes& a) { a.set_int("axis", 0); }); };
  auto split = [&](Value* x, std::vector<int64_t> perm) {
    Value* sh = b.op("Shape", {x});
    Value* r = b.op("Reshape", {x, concat({unsq(gather(sh, 0)), unsq(gather(sh, 1)), b.ints({2}), b.ints({8})})});
    return b.op("Transpose", {r}, [&](Attributes& a) { a.set_ints("perm", perm); });
  };
  Value* s = b.op("MatMul", {split(q, {0, 2, 1, 3}), split(k, {0, 2, 3, 1})});
  s = b.op("Div", {s, b.scalar(std::sqrt(8.0f))});
  Tensor tril = *Tensor::allocate(DataType::kBool, {1, 1, 12, 12});
  for (int64_t i = 0; i < 12; ++i) {
    for (int64_t j = 0; j < 12; ++j) tril.data_as<bool>()[i * 12 + j] = j <= i;
  }
  Value* sh = b.op("Shape", {s});
  Value* ql = unsq(gather(sh, 2));
  Value* kl = unsq(gather(sh, 3));
  Value* keep = b.op("Slice", {b.constant("tril", tril), concat({b.op("Sub", {kl, ql}), b.ints({0})}), concat({kl, kl}), b.ints({2, 3})});
  s = b.op("Where", {keep, s, b.scalar(std::numeric_limits<float>::lowest())});
  Value* p = b.op("Softmax", {s}, [](Attributes& a) { a.set_int("axis", -1); });
  Value* ctx = b.op("Transpose", {b.op("MatMul", {p, split(v, {0, 2, 1, 3})})}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1, 3}); });
  Value* csh = b.op("Shape", {ctx});
  b.output(b.op("Reshape", {ctx, concat({unsq(gather(csh, 0)), unsq(gather(csh, 1)), b.ints({16})})}));
  return b.take();
}

TEST(FuseAttention, CausalWhereWithShapeReadsOfTheScores) {
  PassRun r = run_passes_on(causal_where_attention, kPass, {{"batch", 2}, {"seq", 6}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("kiln.Attention"), 1u);
  EXPECT_EQ(r.count("Softmax"), 0u);
  EXPECT_EQ(r.count("Where"), 1u);  // the additive mask: keep ? 0 : lowest
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// torch.nn.functional.scaled_dot_product_attention as torch.onnx (dynamo) exports BERT's: q and
// kᵀ each multiplied by 1/√√D before the product, kᵀ made through a Reshape that merges batch
// and heads, the boolean mask turned additive by Where(keep, 0, fill), and the softmax guarded
// by Where(IsNaN(p), 0, p). Sequence 4, 2 heads of 4; `keep` [1, 1, 4, 4] masks out every key
// of query row 0 and some of the others.
struct TorchSdpaOptions {
  float fill = std::numeric_limits<float>::lowest();  // -inf: the masked-out row is NaN unfused
  float guard_value = 0;                              // not 0: not the NaN guard, must not fuse
  bool scale_k = true;                                // false: all of the scale on q
};

GraphMaker torch_sdpa_attention(TorchSdpaOptions o) {
  return [=] {
    TestGraph b(18);
    const SymShape bsh{Dim::sym("batch"), Dim::known(4), Dim::known(8)};
    Value* q = b.input("q", bsh);
    Value* k = b.input("k", bsh);
    Value* v = b.input("v", bsh);
    auto heads = [&](Value* x) {
      Value* r = b.op("Reshape", {x, b.ints({-1, 4, 2, 4})}, [](Attributes& a) { a.set_int("allowzero", 1); });
      return b.op("Transpose", {r}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1, 3}); });
    };
    Value* kh = heads(k);
    // kᵀ: Reshape [-1, S, D] from Shape(kh)'s slices, Transpose 021, Reshape back.
    Value* shape = b.op("Shape", {kh}, [](Attributes& a) { a.set_int("start", 0); });
    Value* last = b.op("Slice", {shape, b.ints({-1}), b.ints({std::numeric_limits<int64_t>::max()})});
    Value* mid = b.op("Slice", {shape, b.ints({-2}), b.ints({-1})});
    Value* lead = b.op("Slice", {shape, b.ints({std::numeric_limits<int64_t>::min()}), b.ints({-2})});
    auto concat = [&](std::vector<Value*> xs) { return b.op("Concat", std::move(xs), [](Attributes& a) { a.set_int("axis", 0); }); };
    Value* kt = b.op("Reshape", {kh, concat({b.ints({-1}), mid, last})});
    kt = b.op("Transpose", {kt}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1}); });
    kt = b.op("Reshape", {kt, concat({lead, last, mid})});
    const float root = 1 / std::sqrt(std::sqrt(4.0f));
    Value* qs = b.op("Mul", {heads(q), b.scalar(o.scale_k ? root : root * root)});
    Value* ks = o.scale_k ? b.op("Mul", {kt, b.scalar(root)}) : kt;
    Tensor keep = *Tensor::allocate(DataType::kBool, {1, 1, 4, 4});
    const bool pattern[16] = {false, false, false, false, true, false, true, true, true, true, false, true, true, true, true, true};
    for (int i = 0; i < 16; ++i) keep.data_as<bool>()[i] = pattern[i];
    Value* mask = b.op("Where", {b.constant("keep", keep), b.scalar(0), b.scalar(o.fill)});
    Value* p = b.op("Softmax", {b.op("Add", {b.op("MatMul", {qs, ks}), mask})}, [](Attributes& a) { a.set_int("axis", -1); });
    p = b.op("Where", {b.op("IsNaN", {p}), b.scalar(o.guard_value), p});
    Value* ctx = b.op("Transpose", {b.op("MatMul", {p, heads(v)})}, [](Attributes& a) { a.set_ints("perm", {0, 2, 1, 3}); });
    b.output(b.op("Reshape", {ctx, b.ints({-1, 4, 8})}, [](Attributes& a) { a.set_int("allowzero", 1); }));
    return b.take();
  };
}

// The cleanup turns the kᵀ view into one Transpose; then the attention fuses.
const std::vector<std::string> kWithCleanup{"remove-identity-ops", "fuse-attention"};

TEST(FuseAttention, TorchSdpaExportWithFiniteMask) {
  PassRun r = run_passes_on(torch_sdpa_attention({}), kWithCleanup, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  // Where(keep, 0, fill) stays: it is the Attention's additive mask.
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Where", "kiln.Attention"}));
}

TEST(FuseAttention, TorchSdpaExportWithInfiniteMaskGivesZerosForTheMaskedRow) {
  // Unfused, row 0's softmax is NaN and the guard makes it 0; the Attention gives 0 itself.
  TorchSdpaOptions o;
  o.fill = -std::numeric_limits<float>::infinity();
  PassRun r = run_passes_on(torch_sdpa_attention(o), kWithCleanup, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.ops, (std::vector<std::string>{"Where", "kiln.Attention"}));
}

TEST(FuseAttention, TorchSdpaExportWithTheWholeScaleOnQ) {
  TorchSdpaOptions o;
  o.scale_k = false;
  PassRun r = run_passes_on(torch_sdpa_attention(o), kWithCleanup, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("kiln.Attention"), 1u);
}

TEST(FuseAttention, NotWhenTheNanGuardWritesAnythingButZero) {
  TorchSdpaOptions o;
  o.fill = -std::numeric_limits<float>::infinity();
  o.guard_value = 1;
  PassRun r = run_passes_on(torch_sdpa_attention(o), kWithCleanup, {{"batch", 2}});
  EXPECT_PASS_RUN_OK(r, 1e-5);
  EXPECT_EQ(r.count("kiln.Attention"), 0u);
  EXPECT_EQ(r.count("Softmax"), 1u);
}

}  // namespace
}  // namespace kiln::test
