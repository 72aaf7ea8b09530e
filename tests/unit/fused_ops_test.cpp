// kiln's fused ops (docs/fused_ops.md) against the unfused ONNX graphs they stand for: each test
// builds the subgraph of plain ONNX ops an exporter writes (Conv + Relu + Add + Relu, Transpose +
// MatMul + Mul + Add + activation, the attention block with its head split and merge, RMSNorm
// written out as Pow/ReduceMean/Add/Sqrt/Div/Mul) and the single fused node, runs both on the
// reference backend without optimization, and compares. The unfused graphs run the ONNX ops'
// own kernels, so the fused kernels are checked against an independent computation. Also: bad
// attributes and shapes are build errors that name the node, and symbolic dims flow through.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "backends/backend.h"
#include "builder/builder.h"
#include "core/float16.h"
#include "fmt/format.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

using test::contains;

constexpr const char* kDomain = "kiln";

// A node of kiln's domain (opset 1) with its schema, as the optimizer leaves it.
Node* fused(Graph& g, const std::string& op_type, std::vector<Value*> ins, std::vector<Value*> outs,
            const std::string& name) {
  g.opset_imports[kDomain] = 1;
  Node* n = g.add_node(op_type, std::move(ins), std::move(outs), name, kDomain);
  n->opset = 1;
  n->fused_from = {name};
  n->schema = OpRegistry::global().find(kDomain, op_type, 1);
  EXPECT_NE(n->schema, nullptr) << op_type;
  return n;
}

// Uniform values in [lo, hi), seeded, of any float dtype.
Tensor random_tensor(DataType t, Dims dims, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  auto r = Tensor::allocate(t, std::move(dims));
  if (!r.ok()) std::abort();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < r->numel(); ++i) {
    const double v = u(rng);
    switch (t) {
      case DataType::kFloat32:
        r->data_as<float>()[i] = static_cast<float>(v);
        break;
      case DataType::kFloat64:
        r->data_as<double>()[i] = v;
        break;
      case DataType::kFloat16:
        r->data_as<Float16>()[i] = Float16(static_cast<float>(v));
        break;
      default:
        std::abort();
    }
  }
  return *r;
}

double element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data_as<float>()[i];
    case DataType::kFloat64:
      return t.data_as<double>()[i];
    case DataType::kFloat16:
      return static_cast<float>(t.data_as<Float16>()[i]);
    default:
      return std::nan("");
  }
}

// ||a - b|| / ||b|| (infinite when shapes differ or a value is not finite).
double relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.shape(), b.shape()) << a.describe() << " vs " << b.describe();
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = element(a, i), y = element(b, i);
    if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::infinity();
    diff += (x - y) * (x - y);
    norm += y * y;
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

// Builds at opt level 0 (no pass may touch either graph) on the reference backend and runs.
Tensor run(std::unique_ptr<Graph> g, const NamedTensors& feeds) {
  BuilderConfig cfg = test::quiet_config();
  cfg.opt_level = 0;
  cfg.backend = "reference";
  auto e = test::build(std::move(g), cfg);
  EXPECT_TRUE(e.ok()) << e.status().message();
  if (!e.ok()) return Tensor();
  auto ctx = e->create_execution_context();
  EXPECT_TRUE(ctx.ok());
  NamedTensors out;
  Status s = (*ctx)->run(feeds, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out.count("y") ? out.at("y") : Tensor();
}

// The build error of a graph that must not build.
std::string build_error(std::unique_ptr<Graph> g) {
  BuilderConfig cfg = test::quiet_config();
  cfg.opt_level = 0;
  auto e = test::build(std::move(g), cfg);
  EXPECT_FALSE(e.ok());
  return e.ok() ? std::string() : e.status().message();
}

Value* constant(Graph& g, const std::string& name, Tensor t) { return g.add_constant(name, std::move(t)); }
Value* value(Graph& g, const std::string& name) { return g.add_value(name); }
Value* output(Graph& g) {
  Value* y = g.add_value("y");
  g.add_output(y);
  return y;
}
Tensor scalar(float v) { return test::f32({}, {v}); }

// ---------------------------------------------------------------------------------------------
// FusedConv

struct ConvSetup {
  Tensor x, w, b, z;
};

ConvSetup conv_data(int64_t group) {
  ConvSetup s;
  s.x = random_tensor(DataType::kFloat32, {2, 6, 9, 8}, 1);
  s.w = random_tensor(DataType::kFloat32, {12, 6 / group, 3, 3}, 2);
  s.b = random_tensor(DataType::kFloat32, {12}, 3);
  s.z = random_tensor(DataType::kFloat32, {2, 12, 5, 4}, 4);
  return s;
}

void set_conv_attrs(Attributes& a, int64_t group) {
  a.set_int("group", group);
  a.set_ints("strides", {2, 2});
  a.set_ints("pads", {1, 1, 1, 0});
}

// Conv -> LeakyRelu -> Add(Z) -> Relu, against FusedConv(activation LeakyRelu, post Relu).
TEST(FusedOps, FusedConvMatchesConvActivationResidual) {
  for (int64_t group : {1, 3}) {
    SCOPED_TRACE(group);
    const ConvSetup d = conv_data(group);
    NamedTensors feeds{{"x", d.x}, {"z", d.z}};

    auto u = test::new_graph();
    Value* x = test::input(*u, "x", DataType::kFloat32, sym_shape(d.x.shape()));
    Value* z = test::input(*u, "z", DataType::kFloat32, sym_shape(d.z.shape()));
    Value* c = value(*u, "c");
    set_conv_attrs(test::op(*u, "Conv", {x, constant(*u, "w", d.w), constant(*u, "b", d.b)}, {c})->attrs, group);
    Value* a = value(*u, "a");
    test::op(*u, "LeakyRelu", {c}, {a})->attrs.set_float("alpha", 0.1f);
    Value* s = value(*u, "s");
    test::op(*u, "Add", {a, z}, {s});
    test::op(*u, "Relu", {s}, {output(*u)});
    const Tensor want = run(std::move(u), feeds);

    auto f = test::new_graph();
    x = test::input(*f, "x", DataType::kFloat32, sym_shape(d.x.shape()));
    z = test::input(*f, "z", DataType::kFloat32, sym_shape(d.z.shape()));
    Node* n = fused(*f, "FusedConv", {x, constant(*f, "w", d.w), constant(*f, "b", d.b), z}, {output(*f)}, "fc");
    set_conv_attrs(n->attrs, group);
    n->attrs.set_string("activation", "LeakyRelu");
    n->attrs.set_float("activation_alpha", 0.1f);
    n->attrs.set_string("post_activation", "Relu");
    const Tensor got = run(std::move(f), feeds);

    EXPECT_LE(relative_error(got, want), 1e-5);
    // Every step rounds as the unfused op does: for float32 the bits agree.
    EXPECT_TRUE(test::same_bits(got, want));
  }
}

// Depthwise Conv without bias -> Clip(0, 6) (ReLU6), no residual.
TEST(FusedOps, FusedConvDepthwiseClip) {
  const Tensor xt = random_tensor(DataType::kFloat32, {1, 4, 7, 7}, 5, -8, 8);
  const Tensor wt = random_tensor(DataType::kFloat32, {4, 1, 3, 3}, 6, -2, 2);
  NamedTensors feeds{{"x", xt}};
  auto u = test::new_graph();
  Value* x = test::input(*u, "x", DataType::kFloat32, sym_shape(xt.shape()));
  Value* c = value(*u, "c");
  test::op(*u, "Conv", {x, constant(*u, "w", wt)}, {c})->attrs.set_int("group", 4);
  test::op(*u, "Clip", {c, constant(*u, "lo", scalar(0)), constant(*u, "hi", scalar(6))}, {output(*u)});
  const Tensor want = run(std::move(u), feeds);

  auto f = test::new_graph();
  x = test::input(*f, "x", DataType::kFloat32, sym_shape(xt.shape()));
  Node* n = fused(*f, "FusedConv", {x, constant(*f, "w", wt)}, {output(*f)}, "dw");
  n->attrs.set_int("group", 4);
  n->attrs.set_string("activation", "Clip");
  n->attrs.set_float("activation_alpha", 0.0f);
  n->attrs.set_float("activation_beta", 6.0f);
  const Tensor got = run(std::move(f), feeds);
  EXPECT_LE(relative_error(got, want), 1e-5);
  EXPECT_TRUE(test::same_bits(got, want));
}

// ---------------------------------------------------------------------------------------------
// FusedMatMul

// Transpose(B) -> MatMul -> Mul(alpha) -> Add(bias) -> Mul(v, Sigmoid(v)) -> Add(Z) -> Tanh,
// with batch broadcasting, against FusedMatMul(trans_b, alpha, Silu, Z, post Tanh).
TEST(FusedOps, FusedMatMulMatchesTransposeMatMulScaleBiasSiluResidual) {
  const Tensor at = random_tensor(DataType::kFloat32, {2, 1, 5, 8}, 11);
  const Tensor bt = random_tensor(DataType::kFloat32, {3, 6, 8}, 12);  // [.., N, K]: used transposed
  const Tensor bias = random_tensor(DataType::kFloat32, {6}, 13);
  const Tensor zt = random_tensor(DataType::kFloat32, {3, 5, 6}, 14);
  const float alpha = 0.625f;
  NamedTensors feeds{{"a", at}, {"z", zt}};

  auto u = test::new_graph();
  Value* a = test::input(*u, "a", DataType::kFloat32, sym_shape(at.shape()));
  Value* z = test::input(*u, "z", DataType::kFloat32, sym_shape(zt.shape()));
  Value* btr = value(*u, "bt");
  test::op(*u, "Transpose", {constant(*u, "b", bt)}, {btr})->attrs.set_ints("perm", {0, 2, 1});
  Value* p = value(*u, "p");
  test::op(*u, "MatMul", {a, btr}, {p});
  Value* ps = value(*u, "ps");
  test::op(*u, "Mul", {p, constant(*u, "alpha", scalar(alpha))}, {ps});
  Value* pb = value(*u, "pb");
  test::op(*u, "Add", {ps, constant(*u, "bias", bias)}, {pb});
  Value* sg = value(*u, "sg");
  test::op(*u, "Sigmoid", {pb}, {sg});
  Value* si = value(*u, "si");
  test::op(*u, "Mul", {pb, sg}, {si});
  Value* r = value(*u, "r");
  test::op(*u, "Add", {si, z}, {r});
  test::op(*u, "Tanh", {r}, {output(*u)});
  const Tensor want = run(std::move(u), feeds);

  auto f = test::new_graph();
  a = test::input(*f, "a", DataType::kFloat32, sym_shape(at.shape()));
  z = test::input(*f, "z", DataType::kFloat32, sym_shape(zt.shape()));
  Node* n = fused(*f, "FusedMatMul", {a, constant(*f, "b", bt), constant(*f, "bias", bias), z}, {output(*f)}, "fm");
  n->attrs.set_int("trans_b", 1);
  n->attrs.set_float("alpha", alpha);
  n->attrs.set_string("activation", "Silu");
  n->attrs.set_string("post_activation", "Tanh");
  const Tensor got = run(std::move(f), feeds);
  EXPECT_EQ(got.shape(), (Dims{2, 3, 5, 6}));
  EXPECT_LE(relative_error(got, want), 1e-5);
}

// Gemm(transA, alpha, beta) -> HardSigmoid, against FusedMatMul with C * beta as the bias.
TEST(FusedOps, FusedMatMulMatchesGemm) {
  const Tensor at = random_tensor(DataType::kFloat32, {9, 4}, 21);  // [K, M]: used transposed
  const Tensor bt = random_tensor(DataType::kFloat32, {9, 7}, 22);
  const Tensor ct = random_tensor(DataType::kFloat32, {1, 7}, 23);
  const float alpha = 1.5f, beta = 0.5f;
  auto cb = Tensor::allocate(DataType::kFloat32, ct.shape());
  ASSERT_TRUE(cb.ok());
  for (int64_t i = 0; i < ct.numel(); ++i) cb->data_as<float>()[i] = ct.data_as<float>()[i] * beta;
  NamedTensors feeds{{"a", at}};

  auto u = test::new_graph();
  Value* a = test::input(*u, "a", DataType::kFloat32, sym_shape(at.shape()));
  Value* g = value(*u, "g");
  Node* gemm = test::op(*u, "Gemm", {a, constant(*u, "b", bt), constant(*u, "c", ct)}, {g});
  gemm->attrs.set_int("transA", 1);
  gemm->attrs.set_float("alpha", alpha);
  gemm->attrs.set_float("beta", beta);
  Node* hs = test::op(*u, "HardSigmoid", {g}, {output(*u)});
  hs->attrs.set_float("alpha", 0.3f);
  hs->attrs.set_float("beta", 0.6f);
  const Tensor want = run(std::move(u), feeds);

  auto f = test::new_graph();
  a = test::input(*f, "a", DataType::kFloat32, sym_shape(at.shape()));
  Node* n = fused(*f, "FusedMatMul", {a, constant(*f, "b", bt), constant(*f, "bias", *cb)}, {output(*f)}, "gemm");
  n->attrs.set_int("trans_a", 1);
  n->attrs.set_float("alpha", alpha);
  n->attrs.set_string("activation", "HardSigmoid");
  n->attrs.set_float("activation_alpha", 0.3f);
  n->attrs.set_float("activation_beta", 0.6f);
  const Tensor got = run(std::move(f), feeds);
  EXPECT_LE(relative_error(got, want), 1e-5);
}

// ---------------------------------------------------------------------------------------------
// FusedPointwise

// Mul(v, E1) -> Sub(E2, v) -> Sigmoid -> Div(E3, v) -> Pow(v, E4) -> Max(v, E1) -> Gelu-tanh,
// with broadcast operands; for float32 and float16 the bits must agree with the unfused chain.
TEST(FusedOps, FusedPointwiseMatchesUnfusedChainBitForBit) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    SCOPED_TRACE(dtype_name(t));
    const Tensor xt = random_tensor(t, {3, 4, 5}, 31);
    const Tensor e1 = random_tensor(t, {4, 1}, 32);
    const Tensor e2 = random_tensor(t, {5}, 33);
    const Tensor e3 = random_tensor(t, {}, 34, 0.5, 2);
    const Tensor e4 = random_tensor(t, {3, 1, 5}, 35, 0.5, 2);
    NamedTensors feeds{{"x", xt}, {"e1", e1}, {"e2", e2}, {"e3", e3}, {"e4", e4}};
    auto inputs = [&](Graph& g) {
      std::vector<Value*> v;
      for (const char* name : {"x", "e1", "e2", "e3", "e4"}) v.push_back(test::input(g, name, t, sym_shape(feeds.at(name).shape())));
      return v;
    };

    auto u = test::new_graph(20);
    std::vector<Value*> in = inputs(*u);
    Value* v = in[0];
    auto step = [&](const std::string& op, std::vector<Value*> args, bool last = false) {
      Value* o = last ? output(*u) : value(*u, u->unique_name("v"));
      Node* n = test::op(*u, op, std::move(args), {o});
      v = o;
      return n;
    };
    step("Mul", {v, in[1]});
    step("Sub", {in[2], v});
    step("Sigmoid", {v});
    step("Div", {in[3], v});
    step("Pow", {v, in[4]});
    step("Max", {v, in[1]});
    step("Gelu", {v}, true)->attrs.set_string("approximate", "tanh");
    const Tensor want = run(std::move(u), feeds);

    auto f = test::new_graph(20);
    in = inputs(*f);
    Node* n = fused(*f, "FusedPointwise", in, {output(*f)}, "chain");
    Attribute ops;
    ops.kind = Attribute::Kind::kStrings;
    ops.strings = {"Mul", "Sub", "Sigmoid", "Div", "Pow", "Max", "GeluTanh"};
    n->attrs.set("ops", ops);
    n->attrs.set_ints("operands", {1, 2, 0, 3, 4, 1, 0});
    n->attrs.set_ints("swapped", {0, 1, 0, 1, 0, 0, 0});
    n->attrs.set_floats("alphas", std::vector<float>(7, 0.0f));
    n->attrs.set_floats("betas", std::vector<float>(7, 0.0f));
    const Tensor got = run(std::move(f), feeds);

    EXPECT_LE(relative_error(got, want), t == DataType::kFloat32 ? 1e-5 : 1e-3);
    EXPECT_TRUE(test::same_bits(got, want));
  }
}

// Silu as exporters write it, Mul(x, Sigmoid(x)), equals the Silu step bit for bit in float16
// too (Sigmoid's output is rounded to the dtype before the Mul, in both).
TEST(FusedOps, FusedPointwiseSiluMatchesMulSigmoidInFloat16) {
  const Tensor xt = random_tensor(DataType::kFloat16, {64}, 41, -6, 6);
  NamedTensors feeds{{"x", xt}};
  auto u = test::new_graph();
  Value* x = test::input(*u, "x", DataType::kFloat16, sym_shape(xt.shape()));
  Value* s = value(*u, "s");
  test::op(*u, "Sigmoid", {x}, {s});
  test::op(*u, "Mul", {x, s}, {output(*u)});
  const Tensor want = run(std::move(u), feeds);

  auto f = test::new_graph();
  x = test::input(*f, "x", DataType::kFloat16, sym_shape(xt.shape()));
  Node* n = fused(*f, "FusedPointwise", {x}, {output(*f)}, "silu");
  Attribute ops;
  ops.kind = Attribute::Kind::kStrings;
  ops.strings = {"Silu"};
  n->attrs.set("ops", ops);
  const Tensor got = run(std::move(f), feeds);
  EXPECT_TRUE(test::same_bits(got, want));
}

// ---------------------------------------------------------------------------------------------
// Attention

struct AttentionSetup {
  int64_t B, Sq, Sk, H, Dh, Dv;
};

// The exporters' attention block: Reshape/Transpose head split, Q @ K^T, Mul(scale), Add(mask),
// Softmax, @ V, Transpose/Reshape head merge. Q, K and V have symbolic batch and sequence dims
// ([0, 0, H, D] reshapes keep them).
std::unique_ptr<Graph> unfused_attention(const AttentionSetup& s, float scale, const Tensor* mask) {
  auto g = test::new_graph();
  Value* q = test::input(*g, "q", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("q_len"), Dim::known(s.H * s.Dh)});
  Value* k = test::input(*g, "k", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("kv_len"), Dim::known(s.H * s.Dh)});
  Value* v = test::input(*g, "v", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("kv_len"), Dim::known(s.H * s.Dv)});
  auto split = [&](Value* x, int64_t d, std::vector<int64_t> perm, const std::string& name) {
    Value* r = value(*g, name + "_r");
    test::op(*g, "Reshape", {x, constant(*g, name + "_shape", test::i64({4}, {0, 0, s.H, d}))}, {r});
    Value* t = value(*g, name + "_t");
    test::op(*g, "Transpose", {r}, {t})->attrs.set_ints("perm", perm);
    return t;
  };
  Value* qh = split(q, s.Dh, {0, 2, 1, 3}, "q");
  Value* kh = split(k, s.Dh, {0, 2, 3, 1}, "k");
  Value* vh = split(v, s.Dv, {0, 2, 1, 3}, "v");
  Value* sc = value(*g, "scores");
  test::op(*g, "MatMul", {qh, kh}, {sc});
  Value* scaled = value(*g, "scaled");
  test::op(*g, "Mul", {sc, constant(*g, "scale", scalar(scale))}, {scaled});
  if (mask) {
    Value* masked = value(*g, "masked");
    test::op(*g, "Add", {scaled, constant(*g, "mask", *mask)}, {masked});
    scaled = masked;
  }
  Value* p = value(*g, "probs");
  test::op(*g, "Softmax", {scaled}, {p})->attrs.set_int("axis", -1);
  Value* o = value(*g, "o");
  test::op(*g, "MatMul", {p, vh}, {o});
  Value* ot = value(*g, "o_t");
  test::op(*g, "Transpose", {o}, {ot})->attrs.set_ints("perm", {0, 2, 1, 3});
  test::op(*g, "Reshape", {ot, constant(*g, "merge", test::i64({3}, {0, 0, s.H * s.Dv}))}, {output(*g)});
  return g;
}

std::unique_ptr<Graph> fused_attention(const AttentionSetup& s, const Tensor* mask, std::function<void(Attributes&)> attrs) {
  auto g = test::new_graph();
  std::vector<Value*> ins = {
      test::input(*g, "q", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("q_len"), Dim::known(s.H * s.Dh)}),
      test::input(*g, "k", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("kv_len"), Dim::known(s.H * s.Dh)}),
      test::input(*g, "v", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("kv_len"), Dim::known(s.H * s.Dv)})};
  if (mask) ins.push_back(constant(*g, "mask", *mask));
  attrs(fused(*g, "Attention", ins, {output(*g)}, "attn")->attrs);
  return g;
}

NamedTensors attention_feeds(const AttentionSetup& s) {
  return {{"q", random_tensor(DataType::kFloat32, {s.B, s.Sq, s.H * s.Dh}, 51, -2, 2)},
          {"k", random_tensor(DataType::kFloat32, {s.B, s.Sk, s.H * s.Dh}, 52, -2, 2)},
          {"v", random_tensor(DataType::kFloat32, {s.B, s.Sk, s.H * s.Dv}, 53)}};
}

TEST(FusedOps, AttentionMatchesUnfusedBlockWithMask) {
  const AttentionSetup s{2, 5, 7, 3, 4, 6};  // Sq != Sk, Dv != Dh
  const Tensor mask = random_tensor(DataType::kFloat32, {s.B, 1, s.Sq, s.Sk}, 54, -3, 0);
  const NamedTensors feeds = attention_feeds(s);
  const Tensor want = run(unfused_attention(s, 0.5f, &mask), feeds);
  const Tensor got = run(fused_attention(s, &mask, [&](Attributes& a) {
                           a.set_int("num_heads", s.H);
                           a.set_float("scale", 0.5f);
                         }),
                         feeds);
  EXPECT_EQ(got.shape(), (Dims{s.B, s.Sq, s.H * s.Dv}));
  EXPECT_LE(relative_error(got, want), 1e-5);
}

TEST(FusedOps, AttentionDefaultScaleNoMask) {
  const AttentionSetup s{1, 6, 6, 2, 8, 8};
  const NamedTensors feeds = attention_feeds(s);
  const Tensor want = run(unfused_attention(s, 1.0f / std::sqrt(8.0f), nullptr), feeds);
  const Tensor got = run(fused_attention(s, nullptr, [&](Attributes& a) { a.set_int("num_heads", s.H); }), feeds);
  EXPECT_LE(relative_error(got, want), 1e-5);
}

// causal = 1 equals an additive mask of -inf where key j > query i + Sk - Sq (built here, from
// the spec's rule), for Sq == Sk and for Sq < Sk (queries at the end of a longer key sequence).
TEST(FusedOps, AttentionCausalMatchesExplicitMask) {
  for (const AttentionSetup& s : {AttentionSetup{2, 6, 6, 2, 4, 4}, AttentionSetup{1, 3, 8, 4, 2, 3}}) {
    SCOPED_TRACE(s.Sk);
    auto m = Tensor::allocate(DataType::kFloat32, {s.Sq, s.Sk});
    ASSERT_TRUE(m.ok());
    for (int64_t i = 0; i < s.Sq; ++i) {
      for (int64_t j = 0; j < s.Sk; ++j) {
        m->data_as<float>()[i * s.Sk + j] = j > i + s.Sk - s.Sq ? -std::numeric_limits<float>::infinity() : 0.0f;
      }
    }
    const NamedTensors feeds = attention_feeds(s);
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.Dh));
    const Tensor want = run(unfused_attention(s, scale, &*m), feeds);
    const Tensor got = run(fused_attention(s, nullptr, [&](Attributes& a) {
                             a.set_int("num_heads", s.H);
                             a.set_int("causal", 1);
                             a.set_float("scale", scale);
                           }),
                           feeds);
    EXPECT_LE(relative_error(got, want), 1e-5);
  }
}

// Sq > Sk with causal: the first Sq - Sk queries see no key and give zeros (unfused Softmax would
// give NaN there); the other rows match the unfused block.
TEST(FusedOps, AttentionFullyMaskedRowsGiveZeros) {
  const AttentionSetup s{1, 5, 3, 2, 4, 4};
  auto m = Tensor::allocate(DataType::kFloat32, {s.Sq, s.Sk});
  ASSERT_TRUE(m.ok());
  for (int64_t i = 0; i < s.Sq; ++i) {
    for (int64_t j = 0; j < s.Sk; ++j) {
      m->data_as<float>()[i * s.Sk + j] = j > i + s.Sk - s.Sq ? -std::numeric_limits<float>::infinity() : 0.0f;
    }
  }
  const NamedTensors feeds = attention_feeds(s);
  const Tensor want = run(unfused_attention(s, 0.5f, &*m), feeds);
  const Tensor got = run(fused_attention(s, nullptr, [&](Attributes& a) {
                           a.set_int("num_heads", s.H);
                           a.set_int("causal", 1);
                           a.set_float("scale", 0.5f);
                         }),
                         feeds);
  ASSERT_EQ(got.shape(), want.shape());
  const int64_t row = s.H * s.Dv;
  const int64_t blind = s.Sq - s.Sk;  // queries 0..blind-1 see nothing
  for (int64_t i = 0; i < s.Sq; ++i) {
    for (int64_t c = 0; c < row; ++c) {
      const float g = got.data_as<float>()[i * row + c], w = want.data_as<float>()[i * row + c];
      if (i < blind) {
        EXPECT_EQ(g, 0.0f) << "row " << i;
        EXPECT_TRUE(std::isnan(w)) << "the unfused block gives NaN for a row with no key";
      } else {
        EXPECT_NEAR(g, w, 1e-5f * std::max(1.0f, std::abs(w))) << "row " << i;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Attention with a packed QKV (qkv_packed = 1): input 0 is [B, S, 3E] with Q, K, V side by side.

struct PackedSetup {
  int64_t B, S, H, D;
  int64_t E() const { return H * D; }
};

enum class PackedMask { kNone, kKeyPadding, kFull };

// The mask for a setup: key padding [B, 1, 1, S] (batch 0's last third at -inf, batch 1 random
// values) or a full [B, H, S, S] of random values with some -inf.
Tensor packed_mask(const PackedSetup& s, PackedMask kind) {
  const Dims dims = kind == PackedMask::kKeyPadding ? Dims{s.B, 1, 1, s.S} : Dims{s.B, s.H, s.S, s.S};
  Tensor m = random_tensor(DataType::kFloat32, dims, 81, -3, 1);
  const float inf = std::numeric_limits<float>::infinity();
  float* p = m.data_as<float>();
  if (kind == PackedMask::kKeyPadding) {
    for (int64_t j = s.S - s.S / 3; j < s.S; ++j) p[j] = -inf;
  } else {
    for (int64_t i = 0; i < m.numel(); i += 5) p[i] = -inf;
  }
  return m;
}

// Attention(QKV, -, - [, mask]) with qkv_packed = 1 on qkv [batch, seq, 3E].
std::unique_ptr<Graph> packed_attention(const PackedSetup& s, const Tensor* mask, int64_t causal) {
  auto g = test::new_graph();
  Value* qkv = test::input(*g, "qkv", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("seq"), Dim::known(3 * s.E())});
  std::vector<Value*> ins = {qkv, nullptr, nullptr};
  if (mask) ins.push_back(constant(*g, "mask", *mask));
  Node* n = fused(*g, "Attention", ins, {output(*g)}, "attn");
  n->attrs.set_int("num_heads", s.H);
  n->attrs.set_int("qkv_packed", 1);
  if (causal) n->attrs.set_int("causal", 1);
  return g;
}

// The same columns taken apart by Split(last axis, [E, E, E]) and given to the unpacked op.
std::unique_ptr<Graph> split_then_attention(const PackedSetup& s, const Tensor* mask, int64_t causal) {
  auto g = test::new_graph();
  Value* qkv = test::input(*g, "qkv", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("seq"), Dim::known(3 * s.E())});
  std::vector<Value*> parts = {value(*g, "q"), value(*g, "k"), value(*g, "v")};
  test::op(*g, "Split", {qkv, constant(*g, "sizes", test::i64({3}, {s.E(), s.E(), s.E()}))}, parts)
      ->attrs.set_int("axis", -1);
  std::vector<Value*> ins = parts;
  if (mask) ins.push_back(constant(*g, "mask", *mask));
  Node* n = fused(*g, "Attention", ins, {output(*g)}, "attn");
  n->attrs.set_int("num_heads", s.H);
  if (causal) n->attrs.set_int("causal", 1);
  return g;
}

// Builds at opt level 0 for `backend` and runs.
Tensor run_on(const std::string& backend, std::unique_ptr<Graph> g, const NamedTensors& feeds) {
  BuilderConfig cfg = test::quiet_config();
  cfg.opt_level = 0;
  cfg.backend = backend;
  auto e = test::build(std::move(g), cfg);
  EXPECT_TRUE(e.ok()) << backend << ": " << e.status().message();
  if (!e.ok()) return Tensor();
  auto ctx = e->create_execution_context();
  EXPECT_TRUE(ctx.ok());
  if (!ctx.ok()) return Tensor();
  NamedTensors out;
  Status s = (*ctx)->run(feeds, &out);
  EXPECT_TRUE(s.ok()) << backend << ": " << s.message();
  return out.count("y") ? out.at("y") : Tensor();
}

// The packed op on each backend present equals Split + the unpacked op: bit for bit on the
// reference and cpu backends (the same arithmetic, only the row strides differ), within fp32
// rounding on cuda (skipped without a device). Odd sequence lengths and head dims off the cpu
// kernel's vector width, every mask form, causal.
TEST(FusedOps, PackedAttentionEqualsSplitThenAttentionOnEveryBackend) {
  std::vector<std::string> backends = {"reference", "cpu"};
  if (const Backend* b = find_backend("cuda"); b && b->available().ok()) backends.push_back("cuda");
  const PackedSetup setups[] = {{2, 7, 3, 8}, {1, 37, 2, 24}, {2, 64, 4, 16}};
  for (const PackedSetup& s : setups) {
    const NamedTensors feeds{{"qkv", random_tensor(DataType::kFloat32, {s.B, s.S, 3 * s.E()}, 91 + s.S, -2, 2)}};
    for (PackedMask mk : {PackedMask::kNone, PackedMask::kKeyPadding, PackedMask::kFull}) {
      for (int64_t causal : {0, 1}) {
        const Tensor mask = mk == PackedMask::kNone ? Tensor() : packed_mask(s, mk);
        const Tensor* m = mk == PackedMask::kNone ? nullptr : &mask;
        const Tensor want = run_on("reference", split_then_attention(s, m, causal), feeds);
        ASSERT_EQ(want.shape(), (Dims{s.B, s.S, s.E()}));
        for (const std::string& backend : backends) {
          SCOPED_TRACE(fmt::format("{} S={} H={} D={} mask={} causal={}", backend, s.S, s.H, s.D, static_cast<int>(mk),
                                   causal));
          const Tensor got = run_on(backend, packed_attention(s, m, causal), feeds);
          if (backend == "cuda") {
            EXPECT_LE(relative_error(got, want), 1e-5);
            continue;
          }
          EXPECT_TRUE(test::same_bits(got, run_on(backend, split_then_attention(s, m, causal), feeds)));
          EXPECT_LE(relative_error(got, want), 1e-5);
        }
      }
    }
  }
}

TEST(FusedOps, PackedAttentionInfersBatchSequenceAndHiddenSize) {
  auto g = test::new_graph();
  const Dim batch = Dim::sym("batch"), seq = Dim::sym("seq");
  Value* qkv = test::input(*g, "qkv", DataType::kFloat32, {batch, seq, Dim::known(72)});
  Value* mask = test::input(*g, "mask", DataType::kFloat32, {batch, Dim::known(1), Dim::known(1), seq});
  Value* att = value(*g, "att");
  Node* n = fused(*g, "Attention", {qkv, nullptr, nullptr, mask}, {att}, "attn");
  n->attrs.set_int("num_heads", 3);
  n->attrs.set_int("qkv_packed", 1);
  // Only QKV given: K, V and the mask left out altogether.
  Value* qkv2 = test::input(*g, "qkv2", DataType::kFloat16, {Dim::known(2), Dim::known(5), Dim::sym("width")});
  Value* att2 = value(*g, "att2");
  Node* n2 = fused(*g, "Attention", {qkv2}, {att2}, "attn2");
  n2->attrs.set_int("num_heads", 2);
  n2->attrs.set_int("qkv_packed", 1);
  const Status s = infer_and_annotate(*g);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(*att->shape, (SymShape{batch, seq, Dim::known(24)}));
  EXPECT_EQ(att->dtype, DataType::kFloat32);
  ASSERT_TRUE(att2->shape.has_value());
  EXPECT_EQ(att2->shape->size(), 3u);
  EXPECT_EQ((*att2->shape)[0], Dim::known(2));
  EXPECT_EQ((*att2->shape)[1], Dim::known(5));
  EXPECT_FALSE((*att2->shape)[2].is_known()) << "a third of an unknown width is not known";
  EXPECT_EQ(att2->dtype, DataType::kFloat16);
}

// Each malformed packed node is a build error naming the node and what is wrong with it.
TEST(FusedOps, PackedAttentionShapeErrorsNameTheNodeAndInput) {
  struct Bad {
    const char* what;
    Dims qkv;
    bool with_k;
    int64_t heads, packed;
    Dims mask;
    std::vector<const char*> words;
  };
  const Bad cases[] = {
      {"last dim not 3 parts", {2, 5, 70}, false, 2, 1, {}, {"'QKV'", "70", "3 equal parts"}},
      {"hidden size not divisible by heads", {2, 5, 72}, false, 5, 1, {}, {"'QKV'", "24", "num_heads 5"}},
      {"K given with packed", {2, 5, 72}, true, 3, 1, {}, {"input 1 'K'", "absent", "qkv_packed"}},
      {"rank 4", {2, 5, 3, 24}, false, 3, 1, {}, {"'QKV'", "rank 3"}},
      {"rank 2", {5, 72}, false, 3, 1, {}, {"'QKV'", "rank 3"}},
      {"qkv_packed 2", {2, 5, 72}, false, 3, 2, {}, {"qkv_packed", "2"}},
      {"mask of another sequence length", {2, 5, 72}, false, 3, 1, {2, 1, 1, 6}, {"'mask'", "[2,1,1,6]"}},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.what);
    auto g = test::new_graph();
    std::vector<Value*> ins = {test::input(*g, "qkv", DataType::kFloat32, sym_shape(c.qkv))};
    ins.push_back(c.with_k ? test::input(*g, "k", DataType::kFloat32, sym_shape({2, 5, 24})) : nullptr);
    ins.push_back(nullptr);
    if (!c.mask.empty()) ins.push_back(test::input(*g, "mask", DataType::kFloat32, sym_shape(c.mask)));
    Node* n = fused(*g, "Attention", ins, {output(*g)}, "packed_attn_9");
    n->attrs.set_int("num_heads", c.heads);
    n->attrs.set_int("qkv_packed", c.packed);
    const std::string e = build_error(std::move(g));
    EXPECT_TRUE(contains(e, "packed_attn_9")) << e;
    for (const char* w : c.words) EXPECT_TRUE(contains(e, w)) << "missing '" << w << "' in: " << e;
  }
}

// The unpacked form still needs all of Q, K and V.
TEST(FusedOps, UnpackedAttentionWithoutKIsAnError) {
  auto g = test::new_graph();
  Value* q = test::input(*g, "q", DataType::kFloat32, sym_shape({2, 5, 24}));
  Value* v = test::input(*g, "v", DataType::kFloat32, sym_shape({2, 5, 24}));
  fused(*g, "Attention", {q, nullptr, v}, {output(*g)}, "attn_no_k")->attrs.set_int("num_heads", 3);
  const std::string e = build_error(std::move(g));
  EXPECT_TRUE(contains(e, "attn_no_k")) << e;
  EXPECT_TRUE(contains(e, "input 1 'K' is required")) << e;
}

// ---------------------------------------------------------------------------------------------
// RMSNormalization

TEST(FusedOps, RMSNormalizationMatchesPowReduceMeanSqrtDivMul) {
  for (int64_t axis : {-1, -2}) {
    SCOPED_TRACE(axis);
    const Tensor xt = random_tensor(DataType::kFloat32, {3, 4, 10}, 61, -3, 3);
    const Tensor st = random_tensor(DataType::kFloat32, axis == -1 ? Dims{10} : Dims{4, 10}, 62);
    const float eps = 1e-3f;
    NamedTensors feeds{{"x", xt}};

    auto u = test::new_graph(17);
    Value* x = test::input(*u, "x", DataType::kFloat32, sym_shape(xt.shape()));
    Value* sq = value(*u, "sq");
    test::op(*u, "Pow", {x, constant(*u, "two", scalar(2))}, {sq});
    Value* ms = value(*u, "ms");
    Node* rm = test::op(*u, "ReduceMean", {sq}, {ms});
    rm->attrs.set_ints("axes", axis == -1 ? std::vector<int64_t>{-1} : std::vector<int64_t>{-2, -1});
    rm->attrs.set_int("keepdims", 1);
    Value* me = value(*u, "me");
    test::op(*u, "Add", {ms, constant(*u, "eps", scalar(eps))}, {me});
    Value* rms = value(*u, "rms");
    test::op(*u, "Sqrt", {me}, {rms});
    Value* nx = value(*u, "nx");
    test::op(*u, "Div", {x, rms}, {nx});
    test::op(*u, "Mul", {nx, constant(*u, "scale", st)}, {output(*u)});
    const Tensor want = run(std::move(u), feeds);

    auto f = test::new_graph();
    x = test::input(*f, "x", DataType::kFloat32, sym_shape(xt.shape()));
    Node* n = fused(*f, "RMSNormalization", {x, constant(*f, "scale", st)}, {output(*f)}, "rms");
    n->attrs.set_int("axis", axis);
    n->attrs.set_float("epsilon", eps);
    const Tensor got = run(std::move(f), feeds);
    EXPECT_LE(relative_error(got, want), 1e-5);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors name the node; symbolic dims flow through inference.

TEST(FusedOps, UnknownActivationIsAnErrorNamingNodeAndAttribute) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({1, 2, 5, 5}));
  Node* n = fused(*g, "FusedConv", {x, constant(*g, "w", test::f32({3, 2, 3, 3}, {0.5f}))}, {output(*g)}, "conv_7");
  n->attrs.set_string("post_activation", "Swish");
  const std::string e = build_error(std::move(g));
  EXPECT_TRUE(contains(e, "conv_7")) << e;
  EXPECT_TRUE(contains(e, "post_activation")) << e;
  EXPECT_TRUE(contains(e, "Swish")) << e;
  EXPECT_TRUE(contains(e, "HardSwish")) << "the error lists the valid names: " << e;
}

TEST(FusedOps, ResidualOfWrongShapeIsAnErrorNamingTheNode) {
  {
    auto g = test::new_graph();
    Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({1, 2, 5, 5}));
    Value* z = test::input(*g, "z", DataType::kFloat32, sym_shape({1, 3, 5, 5}));  // Y is [1, 3, 3, 3]
    fused(*g, "FusedConv", {x, constant(*g, "w", test::f32({3, 2, 3, 3}, {0.5f})), nullptr, z}, {output(*g)}, "block1");
    const std::string e = build_error(std::move(g));
    EXPECT_TRUE(contains(e, "block1")) << e;
    EXPECT_TRUE(contains(e, "'Z'")) << e;
  }
  {
    // A residual that would enlarge the product [4, 3] by broadcasting.
    auto g = test::new_graph();
    Value* a = test::input(*g, "a", DataType::kFloat32, sym_shape({4, 5}));
    Value* z = test::input(*g, "z", DataType::kFloat32, sym_shape({2, 4, 3}));
    fused(*g, "FusedMatMul", {a, constant(*g, "b", test::f32({5, 3}, {1.0f})), nullptr, z}, {output(*g)}, "fc2");
    const std::string e = build_error(std::move(g));
    EXPECT_TRUE(contains(e, "fc2")) << e;
    EXPECT_TRUE(contains(e, "'Z'")) << e;
  }
}

TEST(FusedOps, NumHeadsNotDividingHiddenSizeIsAnErrorNamingTheNode) {
  auto g = test::new_graph();
  std::vector<Value*> ins;
  for (const char* name : {"q", "k", "v"}) ins.push_back(test::input(*g, name, DataType::kFloat32, sym_shape({1, 4, 10})));
  fused(*g, "Attention", ins, {output(*g)}, "self_attn_3")->attrs.set_int("num_heads", 3);
  const std::string e = build_error(std::move(g));
  EXPECT_TRUE(contains(e, "self_attn_3")) << e;
  EXPECT_TRUE(contains(e, "num_heads")) << e;
}

TEST(FusedOps, PointwiseOperandOutOfRangeIsAnError) {
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({4}));
  Value* e1 = test::input(*g, "e1", DataType::kFloat32, sym_shape({4}));
  Node* n = fused(*g, "FusedPointwise", {x, e1}, {output(*g)}, "pw");
  Attribute ops;
  ops.kind = Attribute::Kind::kStrings;
  ops.strings = {"Add", "Relu"};
  n->attrs.set("ops", ops);
  n->attrs.set_ints("operands", {2, 0});
  std::string e = build_error(std::move(g));
  EXPECT_TRUE(contains(e, "pw")) << e;
  EXPECT_TRUE(contains(e, "operands")) << e;
}

// An engine file keeps the kiln domain: a saved and reloaded engine finds the fused schemas and
// kernels again and gives the same bits.
TEST(FusedOps, FusedNodesSurviveTheEngineFile) {
  const Tensor xt = random_tensor(DataType::kFloat32, {2, 3, 6}, 71);
  auto g = test::new_graph();
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape(xt.shape()));
  Value* h = value(*g, "h");
  Node* mm = fused(*g, "FusedMatMul", {x, constant(*g, "w", random_tensor(DataType::kFloat32, {6, 4}, 72))}, {h}, "mm");
  mm->attrs.set_string("activation", "Gelu");
  fused(*g, "RMSNormalization", {h, constant(*g, "s", random_tensor(DataType::kFloat32, {4}, 73))}, {output(*g)}, "norm");
  BuilderConfig cfg = test::quiet_config();
  cfg.opt_level = 0;
  auto e = test::build(std::move(g), cfg);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto bytes = e->serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  NamedTensors a, b;
  auto ca = e->create_execution_context();
  auto cb = loaded->create_execution_context();
  ASSERT_TRUE(ca.ok() && cb.ok());
  ASSERT_TRUE((*ca)->run({{"x", xt}}, &a).ok());
  Status s = (*cb)->run({{"x", xt}}, &b);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(test::same_bits(a.at("y"), b.at("y")));
}

TEST(FusedOps, SymbolicDimsFlowThroughInference) {
  auto g = test::new_graph();
  const Dim batch = Dim::sym("batch"), seq = Dim::sym("seq"), kv = Dim::sym("kv");
  Value* q = test::input(*g, "q", DataType::kFloat32, {batch, seq, Dim::known(12)});
  Value* k = test::input(*g, "k", DataType::kFloat32, {batch, kv, Dim::known(12)});
  Value* v = test::input(*g, "v", DataType::kFloat32, {batch, kv, Dim::known(8)});
  Value* att = value(*g, "att");
  fused(*g, "Attention", {q, k, v}, {att}, "attn")->attrs.set_int("num_heads", 4);
  // A projection with a transposed weight [5, 8], then Q @ K^T through trans_b.
  Value* mm = value(*g, "mm");
  Node* fm = fused(*g, "FusedMatMul", {att, constant(*g, "w", test::f32({5, 8}, {0.1f}))}, {mm}, "proj");
  fm->attrs.set_int("trans_b", 1);
  Value* tr = value(*g, "tr");
  fused(*g, "FusedMatMul", {q, k}, {tr}, "qk")->attrs.set_int("trans_b", 1);
  Value* rn = value(*g, "rn");
  fused(*g, "RMSNormalization", {mm, constant(*g, "s", test::f32({5}, {1.0f}))}, {rn}, "norm");
  ASSERT_TRUE(infer_and_annotate(*g).ok());
  ASSERT_TRUE(att->shape.has_value());
  EXPECT_EQ(*att->shape, (SymShape{batch, seq, Dim::known(8)}));
  EXPECT_EQ(*mm->shape, (SymShape{batch, seq, Dim::known(5)}));
  EXPECT_EQ(*tr->shape, (SymShape{batch, seq, kv}));
  EXPECT_EQ(*rn->shape, (SymShape{batch, seq, Dim::known(5)}));
}

}  // namespace
}  // namespace kiln
