// The cpu backend's vectorized elementwise and reduction loops (backends/cpu/kernels/pointwise.h),
// for every body this CPU can run (AVX-512, AVX2, portable): the transcendental approximations
// within a few ulp of the C library over a sweep of all float magnitudes, the exact ops bit for
// bit against the reference formulas (NaN, ±0, ±inf included), the reductions against double
// sums, and the broadcast layouts and run walker against naive index arithmetic. Which kernels the
// cpu backend picks is checked at the end. The harness (tests/harness/) compares whole ops with
// the reference backend.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "backends/cpu/kernels/pointwise.h"
#include "core/activation.h"
#include "unit/test_util.h"

namespace kiln::cpu {
namespace {

std::vector<VectorIsa> runnable_isas() {
  __builtin_cpu_init();
  std::vector<VectorIsa> out = {VectorIsa::kScalar};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    out.push_back(VectorIsa::kAvx2);
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    out.push_back(VectorIsa::kAvx512);
  }
  return out;
}

// Distance in units in the last place; NaN matches only NaN, infinities only themselves.
double ulp_distance(float got, float want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got) ? 0 : 1e30;
  if (got == want) return 0;
  if (std::isinf(want) || std::isinf(got)) return 1e30;
  auto ordered = [](float f) {
    const int64_t i = std::bit_cast<int32_t>(f);
    return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : i;
  };
  return std::fabs(static_cast<double>(ordered(got) - ordered(want)));
}

// Every 4099th float bit pattern (about a million values of every sign and magnitude, NaNs and
// infinities included), plus the values where the approximations switch or saturate.
std::vector<float> float_sweep() {
  std::vector<float> v;
  for (uint64_t b = 0; b < (1ull << 32); b += 4099)
    v.push_back(std::bit_cast<float>(static_cast<uint32_t>(b)));
  for (float s : {0.f, -0.f, 1e-45f, -1e-45f, 0.625f, -0.625f, 1.f, -1.f, 4.f, -4.f, 88.7228f,
                  88.72284f, -87.34f, -103.97f, -104.f, 89.f, 9.f, -9.f}) {
    v.push_back(s);
    v.push_back(std::nextafter(s, INFINITY));
    v.push_back(std::nextafter(s, -INFINITY));
  }
  v.push_back(std::numeric_limits<float>::infinity());
  v.push_back(-std::numeric_limits<float>::infinity());
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  return v;
}

struct Approx {
  const char* name;
  UnaryKind kind;
  float (*ref)(float);
  double max_ulp;
};

float ref_sigmoid(float v) { return apply_activation(Activation::kSigmoid, v, 0, 0); }
float ref_softplus(float v) {
  return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

TEST(CpuPointwise, TranscendentalsWithinAFewUlp) {
  const std::vector<float> x = float_sweep();
  std::vector<float> y(x.size());
  const Approx approx[] = {
      {"exp", UnaryKind::kExp, [](float v) { return std::exp(v); }, 2},
      {"log", UnaryKind::kLog, [](float v) { return std::log(v); }, 2},
      {"tanh", UnaryKind::kTanh, [](float v) { return std::tanh(v); }, 3},
      {"erf", UnaryKind::kErf, [](float v) { return std::erf(v); }, 3},
      {"sigmoid", UnaryKind::kSigmoid, ref_sigmoid, 3},
      {"softplus", UnaryKind::kSoftplus, ref_softplus, 4},
  };
  for (VectorIsa isa : runnable_isas()) {
    const VecKernels& k = vec_kernels_for(isa);
    for (const Approx& a : approx) {
      UnaryOp op;
      op.kind = a.kind;
      k.unary(op, x.data(), y.data(), static_cast<int64_t>(x.size()));
      double worst = 0;
      float worst_x = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double d = ulp_distance(y[i], a.ref(x[i]));
        if (d > worst) {
          worst = d;
          worst_x = x[i];
        }
      }
      EXPECT_LE(worst, a.max_ulp) << k.isa << " " << a.name << " at x = " << worst_x;
    }
  }
}

// Gelu adds 1 to erf (GeluTanh to tanh), which cancels for negative x as it does in the reference
// formula: compared there by absolute error, elsewhere by ulp.
TEST(CpuPointwise, GeluMatchesTheReferenceFormula) {
  const std::vector<float> x = float_sweep();
  std::vector<float> y(x.size());
  for (VectorIsa isa : runnable_isas()) {
    const VecKernels& k = vec_kernels_for(isa);
    for (Activation act : {Activation::kGelu, Activation::kGeluTanh, Activation::kSilu}) {
      k.unary(unary_from_activation(act, 0, 0), x.data(), y.data(), static_cast<int64_t>(x.size()));
      for (size_t i = 0; i < x.size(); ++i) {
        const float want = apply_activation(act, x[i], 0, 0);
        if (std::isnan(want) || std::isinf(want) || x[i] > -1.f) {
          ASSERT_LE(ulp_distance(y[i], want), 8)
              << k.isa << " " << activation_name(act) << " at x = " << x[i];
        } else {
          ASSERT_NEAR(y[i], want, 4e-7 * std::max(1.f, std::fabs(x[i])))
              << k.isa << " " << activation_name(act) << " at x = " << x[i];
        }
      }
    }
  }
}

bool same_bits(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

const std::vector<float> kEdges = {0.f,     -0.f,  1.f,    -1.f,     0.5f,      -2.5f, 1e-40f,
                                   -1e-40f, 3e38f, -3e38f, INFINITY, -INFINITY, NAN,   7.f,
                                   -0.3f,   0.3f,  2.f,    -6.f,     6.f};

// Everything but the transcendentals gives the reference's bits.
TEST(CpuPointwise, ExactOpsGiveTheReferenceBits) {
  struct Exact {
    UnaryOp op;
    float (*ref)(float, float, float);
  };
  auto act = [](Activation a, float alpha, float beta) {
    return unary_from_activation(a, alpha, beta);
  };
  auto kind = [](UnaryKind k) {
    UnaryOp op;
    op.kind = k;
    return op;
  };
  const Exact exact[] = {
      {act(Activation::kRelu, 0, 0),
       [](float v, float, float) { return apply_activation(Activation::kRelu, v, 0, 0); }},
      {act(Activation::kLeakyRelu, 0.1f, 0),
       [](float v, float a, float) { return apply_activation(Activation::kLeakyRelu, v, a, 0); }},
      {act(Activation::kClip, -0.4f, 0.7f),
       [](float v, float a, float b) { return apply_activation(Activation::kClip, v, a, b); }},
      {act(Activation::kClip, 0.7f, -0.4f),  // min > max: max everywhere but NaN
       [](float v, float a, float b) { return apply_activation(Activation::kClip, v, a, b); }},
      {act(Activation::kClip, NAN, 0.5f),
       [](float v, float a, float b) { return apply_activation(Activation::kClip, v, a, b); }},
      {act(Activation::kHardSwish, 0, 0),
       [](float v, float, float) { return apply_activation(Activation::kHardSwish, v, 0, 0); }},
      {kind(UnaryKind::kSqrt), [](float v, float, float) { return std::sqrt(v); }},
      {kind(UnaryKind::kNeg), [](float v, float, float) { return -v; }},
      {kind(UnaryKind::kAbs), [](float v, float, float) { return std::abs(v); }},
      {kind(UnaryKind::kReciprocal), [](float v, float, float) { return 1.f / v; }},
      {kind(UnaryKind::kFloor), [](float v, float, float) { return std::floor(v); }},
      {kind(UnaryKind::kCeil), [](float v, float, float) { return std::ceil(v); }},
  };
  std::vector<float> y(kEdges.size());
  for (VectorIsa isa : runnable_isas()) {
    const VecKernels& k = vec_kernels_for(isa);
    for (const Exact& e : exact) {
      k.unary(e.op, kEdges.data(), y.data(), static_cast<int64_t>(kEdges.size()));
      for (size_t i = 0; i < kEdges.size(); ++i) {
        const float want = e.ref(kEdges[i], e.op.alpha, e.op.beta);
        EXPECT_TRUE(same_bits(y[i], want) || (std::isnan(y[i]) && std::isnan(want)))
            << k.isa << " op " << static_cast<int>(e.op.kind) << " at " << kEdges[i] << ": " << y[i]
            << " vs " << want;
      }
    }
  }
}

// The reference's binary semantics: IEEE arithmetic; Max/Min take b when b > a (b < a) or b is
// NaN, else a (so NaN wins from either side and ties keep a). In place, against a scalar on
// either side, every pair of edge values.
TEST(CpuPointwise, BinaryOpsGiveTheReferenceBits) {
  auto ref = [](BinaryKind k, float a, float b) -> float {
    switch (k) {
      case BinaryKind::kAdd:
        return a + b;
      case BinaryKind::kSub:
        return a - b;
      case BinaryKind::kMul:
        return a * b;
      case BinaryKind::kDiv:
        return a / b;
      case BinaryKind::kMax:
        return (b > a || std::isnan(b)) ? b : a;
      case BinaryKind::kMin:
        return (b < a || std::isnan(b)) ? b : a;
      case BinaryKind::kPow:
        return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    }
    return 0;
  };
  std::vector<float> a, b;
  for (float u : kEdges) {
    for (float v : kEdges) {
      a.push_back(u);
      b.push_back(v);
    }
  }
  const int64_t n = static_cast<int64_t>(a.size());
  std::vector<float> y(a.size());
  auto check = [&](const char* isa, BinaryKind k, const char* form, int64_t i, float got,
                   float want) {
    EXPECT_TRUE(same_bits(got, want) || (std::isnan(got) && std::isnan(want)))
        << isa << " kind " << static_cast<int>(k) << " " << form << " " << a[i] << ", " << b[i]
        << ": " << got << " vs " << want;
  };
  for (VectorIsa isa : runnable_isas()) {
    const VecKernels& k = vec_kernels_for(isa);
    for (BinaryKind kind : {BinaryKind::kAdd, BinaryKind::kSub, BinaryKind::kMul, BinaryKind::kDiv,
                            BinaryKind::kMax, BinaryKind::kMin, BinaryKind::kPow}) {
      k.binary(kind, a.data(), b.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) check(k.isa, kind, "vv", i, y[i], ref(kind, a[i], b[i]));
      y = a;
      k.binary(kind, y.data(), b.data(), y.data(), n);  // in place
      for (int64_t i = 0; i < n; ++i)
        check(k.isa, kind, "in place", i, y[i], ref(kind, a[i], b[i]));
      for (float s : {NAN, -0.f, 2.5f}) {
        k.binary_vs(kind, a.data(), s, y.data(), n);
        for (int64_t i = 0; i < n; ++i) check(k.isa, kind, "vs", i, y[i], ref(kind, a[i], s));
        k.binary_sv(kind, s, b.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i) check(k.isa, kind, "sv", i, y[i], ref(kind, s, b[i]));
      }
    }
  }
}

TEST(CpuPointwise, ReductionsMatchDoubleSums) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> x(70000);
  for (float& v : x) v = dist(rng);
  for (VectorIsa isa : runnable_isas()) {
    const VecKernels& k = vec_kernels_for(isa);
    for (int64_t n : {0, 1, 5, 16, 17, 63, 64, 65, 4095, 4096, 4097, 70000}) {
      double want = 0;
      float mx = -INFINITY;
      for (int64_t i = 0; i < n; ++i) {
        want += x[static_cast<size_t>(i)];
        mx = std::max(mx, x[static_cast<size_t>(i)]);
      }
      EXPECT_NEAR(k.sum(x.data(), n), want, 1e-5 * (1 + std::sqrt(static_cast<double>(n))))
          << k.isa << " n=" << n;
      EXPECT_EQ(k.max(x.data(), n), mx) << k.isa << " n=" << n;
    }
    // Columns: widths with ragged vectors, more rows than one float chunk.
    for (int64_t width : {1, 7, 16, 33, 64}) {
      const int64_t rows = 300, stride = 70;
      std::vector<double> acc(static_cast<size_t>(width), 0.5);
      std::vector<float> mx(static_cast<size_t>(width), -INFINITY);
      k.col_sum(x.data(), rows, stride, width, acc.data());
      k.col_max(x.data(), rows, stride, width, mx.data());
      for (int64_t j = 0; j < width; ++j) {
        double want = 0.5;
        float m = -INFINITY;
        for (int64_t r = 0; r < rows; ++r) {
          want += x[static_cast<size_t>(r * stride + j)];
          m = std::max(m, x[static_cast<size_t>(r * stride + j)]);
        }
        EXPECT_NEAR(acc[static_cast<size_t>(j)], want, 1e-4)
            << k.isa << " width " << width << " column " << j;
        EXPECT_EQ(mx[static_cast<size_t>(j)], m) << k.isa << " width " << width << " column " << j;
      }
    }
    // NaN anywhere makes the maximum NaN; infinities are ordinary values.
    std::vector<float> v = {1, -INFINITY, 3, INFINITY, 2};
    EXPECT_EQ(k.max(v.data(), 5), INFINITY) << k.isa;
    for (size_t at : {size_t{0}, size_t{2}, size_t{4}}) {
      std::vector<float> w(37, 1.f);
      w[at * 8] = NAN;
      EXPECT_TRUE(std::isnan(k.max(w.data(), 37))) << k.isa << " NaN at " << at * 8;
      float colmax[1] = {-INFINITY};
      k.col_max(w.data(), 37, 1, 1, colmax);
      EXPECT_TRUE(std::isnan(colmax[0])) << k.isa;
    }
    EXPECT_EQ(k.max(v.data(), 0), -INFINITY) << k.isa;
  }
}

// for_each_run against naive numpy index arithmetic, over ranges that start and end mid-row.
TEST(CpuPointwise, BroadcastRunsVisitEveryElementWithTheRightOffsets) {
  struct Shapes {
    Dims a, b;
  };
  const Shapes shapes[] = {
      {{2, 16, 9, 7}, {16, 1, 1}},
      {{2, 5, 96}, {96}},
      {{7, 1}, {1, 13}},
      {{3, 1, 7}, {3, 40, 7}},
      {{4, 6, 5}, {4, 6, 1}},
      {{}, {3, 17}},
      {{5}, {5}},
      {{1, 1}, {}},
      {{5, 1, 11, 1}, {7, 1, 13}},
      {{2, 1, 3, 1, 2}, {1, 4, 1, 2, 1}},
  };
  for (const Shapes& s : shapes) {
    Dims out;
    ASSERT_TRUE(broadcast_dims(s.a, s.b, out));
    const Dims* ops[2] = {&s.a, &s.b};
    BroadcastLayout l;
    ASSERT_TRUE(make_broadcast_layout(ops, 2, out, l));
    const int64_t n = element_count(out);
    ASSERT_EQ(l.numel, n);
    // Naive offsets of each operand for each output element.
    std::vector<int64_t> want[2];
    for (int k = 0; k < 2; ++k) {
      const Dims& d = *ops[k];
      for (int64_t i = 0; i < n; ++i) {
        int64_t rem = i, off = 0, stride = 1;
        for (size_t q = out.size(); q-- > 0;) {
          const int64_t idx = rem % out[q];
          rem /= out[q];
          const size_t lag = out.size() - d.size();
          if (q >= lag && d[q - lag] != 1) off += idx * stride;
          if (q >= lag) stride *= d[q - lag];
        }
        want[k].push_back(off);
      }
    }
    for (int64_t begin : {int64_t{0}, n / 3, n - 1}) {
      for (int64_t end : {n, begin + (n - begin) / 2 + 1}) {
        if (begin < 0 || begin >= end || end > n) continue;
        int64_t next = begin;
        for_each_run(l, begin, end,
                     [&](int64_t pos, int64_t len, const int64_t* off, const int64_t* step) {
                       ASSERT_EQ(pos, next);
                       ASSERT_GT(len, 0);
                       for (int64_t j = 0; j < len; ++j) {
                         for (int k = 0; k < 2; ++k) {
                           ASSERT_EQ(off[k] + j * step[k], want[k][static_cast<size_t>(pos + j)])
                               << dims_to_string(s.a) << " " << dims_to_string(s.b) << " operand "
                               << k << " element " << pos + j;
                         }
                       }
                       next = pos + len;
                     });
        EXPECT_EQ(next, end) << dims_to_string(s.a) << " " << dims_to_string(s.b);
      }
    }
  }
  // Shapes that do not broadcast, and an operand that would enlarge the output.
  Dims out;
  EXPECT_FALSE(broadcast_dims({3, 4}, {5, 4}, out));
  const Dims big{2, 3}, small{3};
  const Dims* ops[1] = {&big};
  BroadcastLayout l;
  EXPECT_FALSE(make_broadcast_layout(ops, 1, small, l));
}

// Tensors above the harness's size limit, large enough that even the streaming kernels split
// across threads (kMinStreamElementsPerThread): the cpu engine's outputs against the reference
// backend's, bit for bit where the arithmetic is exact.
TEST(CpuPointwise, LargeTensorsSplitAcrossThreadsMatchTheReference) {
  auto build = [](const std::string& backend) {
    auto g = test::new_graph(18);
    Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({8, 256, 256}));
    Value* bias = test::input(*g, "bias", DataType::kFloat32, sym_shape({256}));
    auto v = [&](const char* name) { return g->add_value(name); };
    Value *a = v("a"), *r = v("r"), *mean = v("mean"), *mx = v("mx"), *gap = v("gap");
    test::op(*g, "Add", {x, bias}, {a}, "add");
    test::op(*g, "Relu", {a}, {r}, "relu");
    test::op(*g, "ReduceMean", {r, g->add_constant("rows", test::i64({1}, {-1}))}, {mean}, "mean");
    test::op(*g, "ReduceMax", {a, g->add_constant("cols", test::i64({1}, {1}))}, {mx}, "max");
    test::op(*g, "GlobalAveragePool", {a}, {gap}, "gap");
    for (Value* o : {r, mean, mx, gap}) g->add_output(o);
    BuilderConfig cfg = test::quiet_config();
    cfg.opt_level = 0;
    cfg.backend = backend;
    return test::build(std::move(g), cfg);
  };
  auto ref = build("reference");
  auto cpu = build("cpu");
  ASSERT_TRUE(ref.ok() && cpu.ok());
  for (const LayerInfo& l : cpu->info().layers) EXPECT_EQ(l.backend, "cpu") << l.name;
  std::vector<float> xv(8 * 256 * 256), bv(256);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>((i * 7919) % 2003) / 1001.0f - 1.0f;
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<float>(i % 17) / 16.0f - 0.5f;
  const NamedTensors in{{"x", test::f32({8, 256, 256}, xv)}, {"bias", test::f32({256}, bv)}};
  NamedTensors want, got;
  ASSERT_TRUE((*ref->create_execution_context())->run(in, &want).ok());
  ASSERT_TRUE((*cpu->create_execution_context())->run(in, &got).ok());
  EXPECT_TRUE(test::same_bits(got.at("r"), want.at("r")));
  EXPECT_TRUE(test::same_bits(got.at("mx"), want.at("mx")));
  for (const char* name : {"mean", "gap"}) {
    const std::vector<float> g1 = test::floats(got.at(name)), w1 = test::floats(want.at(name));
    ASSERT_EQ(g1.size(), w1.size());
    for (size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(g1[i], w1[i], 1e-6 * (1 + std::fabs(w1[i]))) << name << " " << i;
  }
}

// The cpu backend lowers f32 elementwise and reduction nodes to these kernels and leaves what they
// do not take (other dtypes, opset-6 broadcasting) to the reference.
TEST(CpuPointwise, CpuBackendPicksTheVectorKernels) {
  auto g = test::new_graph(18);
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({2, 8, 6, 6}));
  Value* i = test::input(*g, "i", DataType::kInt32, sym_shape({2, 3}));
  auto v = [&](const char* name) { return g->add_value(name); };
  Value *a = v("a"), *s = v("s"), *m = v("m"), *p = v("p"), *ii = v("ii");
  Value* axes = g->add_constant("axes", test::i64({2}, {2, 3}));
  test::op(*g, "Add", {x, x}, {a}, "add");
  test::op(*g, "Sigmoid", {a}, {s}, "sig");
  test::op(*g, "ReduceMean", {s, axes}, {m}, "mean");
  test::op(*g, "GlobalAveragePool", {s}, {p}, "gap");
  test::op(*g, "Add", {i, i}, {ii}, "add_int");
  for (Value* o : {m, p, ii}) g->add_output(o);
  BuilderConfig cfg = test::quiet_config();
  cfg.backend = "cpu";
  cfg.opt_level = 0;
  auto e = test::build(std::move(g), cfg);
  ASSERT_TRUE(e.ok()) << e.status().message();
  std::map<std::string, std::string> kernels;
  for (const LayerInfo& l : e->info().layers) kernels[l.name] = l.backend + "/" + l.kernel;
  EXPECT_EQ(kernels["add"], "cpu/cpu_Add");
  EXPECT_EQ(kernels["sig"], "cpu/cpu_Sigmoid");
  EXPECT_EQ(kernels["mean"], "cpu/cpu_ReduceMean");
  EXPECT_EQ(kernels["gap"], "cpu/cpu_GlobalAveragePool");
  EXPECT_EQ(kernels["add_int"], "reference/ref_Add");
}

}  // namespace
}  // namespace kiln::cpu
