// The cuda backend end to end (src/backends/cuda/ops/): one-node graphs of every op family the
// cuda table takes, built for "cuda" and for "reference" (the oracle) and run on the same random
// inputs; the node must have run on cuda (LayerInfo::backend and kernel), and its outputs, which
// are pre-bound poisoned (all bits set: NaN for floats) so an unwritten one shows, must agree with
// the reference: bit for bit where the kernels compute as the reference does (arithmetic, Cast,
// data movement), within a tolerance of the dtype otherwise. A mixed graph with a fallback op in
// the middle checks the copy layers both ways, and save/load. The lowering decisions (which nodes
// the cuda table refuses, so that they fall back) need no GPU and are checked everywhere.
//
// The GPU cases skip with "skipped: no CUDA device" where the cuda backend is not available.
#include <gtest/gtest.h>

#ifdef KILN_HAVE_CUDA

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "builder/device_copies.h"
#include "core/float16.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "passes/pass.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

bool cuda_usable() {
  const Backend* b = find_backend("cuda");
  return b && b->available().ok();
}

#define KILN_REQUIRE_CUDA() \
  if (!cuda_usable()) GTEST_SKIP() << "skipped: no CUDA device"

// --- tensors -----------------------------------------------------------------------------------

double value_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32: return t.data_as<float>()[i];
    case DataType::kFloat16: return static_cast<float>(t.data_as<Float16>()[i]);
    case DataType::kBFloat16: return static_cast<float>(t.data_as<BFloat16>()[i]);
    case DataType::kFloat64: return t.data_as<double>()[i];
    case DataType::kInt64: return static_cast<double>(t.data_as<int64_t>()[i]);
    case DataType::kInt32: return t.data_as<int32_t>()[i];
    case DataType::kUInt8: return t.data_as<uint8_t>()[i];
    case DataType::kInt8: return t.data_as<int8_t>()[i];
    case DataType::kBool: return t.data_as<uint8_t>()[i];
    default: ADD_FAILURE() << "no test accessor for " << dtype_name(t.dtype()); return 0;
  }
}

void set_value(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DataType::kFloat32: t.data_as<float>()[i] = static_cast<float>(v); break;
    case DataType::kFloat16: t.data_as<Float16>()[i] = Float16(static_cast<float>(v)); break;
    case DataType::kBFloat16: t.data_as<BFloat16>()[i] = BFloat16(static_cast<float>(v)); break;
    case DataType::kFloat64: t.data_as<double>()[i] = v; break;
    case DataType::kInt64: t.data_as<int64_t>()[i] = static_cast<int64_t>(v); break;
    case DataType::kInt32: t.data_as<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DataType::kUInt8: t.data_as<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DataType::kInt8: t.data_as<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DataType::kBool: t.data_as<uint8_t>()[i] = v != 0 ? 1 : 0; break;
    default: ADD_FAILURE() << "no test accessor for " << dtype_name(t.dtype());
  }
}

// Uniform in [lo, hi) (integers and bools: whole numbers in it, so [0, 2) for bools); floats never
// exactly 0, so a kernel that leaves zeros behind cannot pass by accident.
Tensor random_tensor(DataType dt, const Dims& dims, uint64_t seed, double lo, double hi) {
  auto t = Tensor::allocate(dt, dims);
  EXPECT_TRUE(t.ok());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  const bool integral = dt == DataType::kInt64 || dt == DataType::kInt32 || dt == DataType::kUInt8 || dt == DataType::kInt8 ||
                        dt == DataType::kBool;
  for (int64_t i = 0; i < t->numel(); ++i) {
    double v = u(rng);
    if (integral) v = std::floor(v);
    if (!integral && v == 0) v = 0.5;
    set_value(*t, i, v);
  }
  return *t;
}

Tensor int_tensor(DataType dt, const Dims& dims, const std::vector<int64_t>& v) {
  auto t = Tensor::allocate(dt, dims);
  EXPECT_TRUE(t.ok());
  EXPECT_EQ(static_cast<size_t>(t->numel()), v.size());
  for (int64_t i = 0; i < t->numel(); ++i) {
    // int64 directly: values past 2^53 would not survive a trip through double.
    if (dt == DataType::kInt64) {
      t->data_as<int64_t>()[i] = v[static_cast<size_t>(i)];
    } else {
      set_value(*t, i, static_cast<double>(v[static_cast<size_t>(i)]));
    }
  }
  return *t;
}

// A tensor of this dtype and shape with every bit set: NaN in every float type.
Tensor poisoned(DataType dt, const Dims& dims) {
  auto t = Tensor::allocate(dt, dims);
  EXPECT_TRUE(t.ok());
  if (t->nbytes()) std::memset(t->data(), 0xff, t->nbytes());
  return *t;
}

struct Tolerance {
  double rtol = 0, atol = 0;  // both 0: bit for bit
  bool exact() const { return rtol == 0 && atol == 0; }
};

constexpr Tolerance kExact{};
// One or two roundings of the element type apart, for values computed in fp32 here and in double
// by the reference (each rounded once to the element type).
Tolerance rounding_of(DataType dt) {
  switch (dt) {
    case DataType::kFloat16: return {2e-3, 2e-3};
    case DataType::kBFloat16: return {1.6e-2, 1.6e-2};
    default: return {1e-5, 1e-6};
  }
}

// got == want (shape, dtype), element by element within tol; NaNs and infinities must agree.
void expect_close(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  if (tol.exact()) {
    EXPECT_TRUE(test::same_bits(got, want)) << what << ": not bit for bit the reference's";
    if (!test::same_bits(got, want)) {
      for (int64_t i = 0, shown = 0; i < got.numel() && shown < 5; ++i) {
        if (std::memcmp(static_cast<const char*>(got.data()) + i * dtype_size(got.dtype()),
                        static_cast<const char*>(want.data()) + i * dtype_size(want.dtype()), dtype_size(got.dtype())) != 0) {
          ADD_FAILURE() << what << "[" << i << "]: " << value_at(got, i) << " vs " << value_at(want, i);
          ++shown;
        }
      }
    }
    return;
  }
  int failures = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = value_at(got, i), w = value_at(want, i);
    bool ok;
    if (std::isnan(w) || std::isnan(g)) {
      ok = std::isnan(w) && std::isnan(g);
    } else if (std::isinf(w) || std::isinf(g)) {
      ok = g == w;
    } else {
      ok = std::abs(g - w) <= tol.atol + tol.rtol * std::abs(w);
    }
    if (!ok && failures++ < 5) ADD_FAILURE() << what << "[" << i << "]: got " << g << ", reference " << w;
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << got.numel() << " elements differ";
}

// --- one-node cases ----------------------------------------------------------------------------

struct In {
  enum Kind { kData, kWeight, kIntConst, kIntData, kOmitted } kind = kData;
  std::string name;
  DataType dtype = DataType::kFloat32;
  Dims dims;
  double lo = -2, hi = 2;
  std::vector<int64_t> ints;  // kIntConst / kIntData
};

In data(const std::string& name, DataType dt, Dims dims, double lo = -2, double hi = 2) { return {In::kData, name, dt, std::move(dims), lo, hi, {}}; }
In weight(const std::string& name, DataType dt, Dims dims, double lo = -2, double hi = 2) { return {In::kWeight, name, dt, std::move(dims), lo, hi, {}}; }
In ints(const std::string& name, std::vector<int64_t> v, DataType dt = DataType::kInt64) {
  const Dims d{static_cast<int64_t>(v.size())};
  return {In::kIntConst, name, dt, d, 0, 0, std::move(v)};
}
In int_data(const std::string& name, DataType dt, Dims dims, std::vector<int64_t> v) { return {In::kIntData, name, dt, std::move(dims), 0, 0, std::move(v)}; }
In omitted() { return {In::kOmitted, "", DataType::kUndefined, {}, 0, 0, {}}; }

struct OpCase {
  OpCase(std::string name_, std::string op_, std::string domain_, int opset_, std::vector<In> ins_,
         std::function<void(Attributes&)> attrs_ = {}, size_t outputs_ = 1, std::string kernel_ = "", Tolerance tol_ = {})
      : name(std::move(name_)), op(std::move(op_)), domain(std::move(domain_)), opset(opset_), ins(std::move(ins_)),
        attrs(std::move(attrs_)), outputs(outputs_), kernel(std::move(kernel_)), tol(tol_) {}
  std::string name;
  std::string op;
  std::string domain;  // "" or "kiln"
  int opset = 17;
  std::vector<In> ins;
  std::function<void(Attributes&)> attrs;
  size_t outputs = 1;
  std::string kernel;  // the cuda kernel the node must lower to
  Tolerance tol;
};

uint64_t seed_of(const std::string& s) { return std::hash<std::string>{}(s); }

Tensor tensor_for(const OpCase& c, const In& in) {
  if (in.kind == In::kIntConst || in.kind == In::kIntData) return int_tensor(in.dtype, in.dims, in.ints);
  return random_tensor(in.dtype, in.dims, seed_of(c.name + "/" + in.name), in.lo, in.hi);
}

std::unique_ptr<Graph> graph_of(const OpCase& c) {
  auto g = test::new_graph(c.domain.empty() ? c.opset : 17);
  g->opset_imports[kKilnDomain] = 1;
  std::vector<Value*> ins;
  for (const In& in : c.ins) {
    switch (in.kind) {
      case In::kData:
      case In::kIntData: ins.push_back(test::input(*g, in.name, in.dtype, sym_shape(in.dims))); break;
      case In::kWeight:
      case In::kIntConst: ins.push_back(g->add_constant(in.name, tensor_for(c, in))); break;
      case In::kOmitted: ins.push_back(nullptr); break;
    }
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < c.outputs; ++i) outs.push_back(g->add_value(fmt::format("y{}", i)));
  Node* n;
  if (c.domain.empty()) {
    n = test::op(*g, c.op, ins, outs, "op");
  } else {
    n = g->add_node(c.op, ins, outs, "op", c.domain);
    n->opset = 1;
    n->fused_from = {"op"};
    n->schema = OpRegistry::global().find(c.domain, c.op, 1);
  }
  if (c.attrs) c.attrs(n->attrs);
  for (Value* o : outs) g->add_output(o);
  return g;
}

NamedTensors feeds_of(const OpCase& c, int run) {
  NamedTensors f;
  for (const In& in : c.ins) {
    if (in.kind != In::kData && in.kind != In::kIntData) continue;
    OpCase varied = c;
    varied.name += fmt::format("#{}", run);
    f[in.name] = tensor_for(in.kind == In::kData ? varied : c, in);
  }
  return f;
}

Result<Engine> build_for(const std::string& backend, std::unique_ptr<Graph> g) {
  BuilderConfig config = test::quiet_config();
  config.backend = backend;
  config.opt_level = 0;  // every node as written
  return test::build(std::move(g), config);
}

const LayerInfo* layer_named(const EngineInfo& info, const std::string& name) {
  for (const LayerInfo& l : info.layers) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// Changes a run's feeds before both backends see them (NaNs, chosen values); run is 0 or 1.
using FeedEdit = std::function<void(NamedTensors& feeds, int run)>;

// Builds the case on both backends, checks where its node runs and compares two runs' outputs.
void run_case(const OpCase& c, const FeedEdit& edit = {}) {
  SCOPED_TRACE(c.name);
  auto cuda = build_for("cuda", graph_of(c));
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", graph_of(c));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  const EngineInfo info = cuda->info();
  const LayerInfo* l = layer_named(info, "op");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->backend, "cuda");
  EXPECT_EQ(l->kernel, c.kernel);
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  for (int run = 0; run < 2; ++run) {
    NamedTensors in = feeds_of(c, run);
    if (edit) edit(in, run);
    NamedTensors want;
    const Status rs = (*ref_ctx)->run(in, &want);
    ASSERT_TRUE(rs.ok()) << rs.message();
    NamedTensors got;
    for (const auto& [name, t] : want) got[name] = poisoned(t.dtype(), t.shape());
    const Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (const auto& [name, t] : want) expect_close(got.at(name), t, c.tol, fmt::format("{} run {} output {}", c.name, run, name));
  }
}

const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

std::string short_name(DataType dt) { return dtype_name(dt); }

// --- binary, Cast, FusedPointwise --------------------------------------------------------------

TEST(CudaBackend, BinaryOpsBroadcastAndGiveTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    run_case({"Add bias " + t, "Add", "", 17, {data("a", dt, {2, 3, 5, 8}), weight("b", dt, {8})}, {}, 1, "cuda_Add", kExact});
    run_case({"Sub " + t, "Sub", "", 17, {data("a", dt, {2, 3, 5, 8}), data("b", dt, {2, 1, 5, 1})}, {}, 1, "cuda_Sub", kExact});
    run_case({"Mul both broadcast " + t, "Mul", "", 17, {data("a", dt, {4, 1, 6}), data("b", dt, {1, 5, 1})}, {}, 1, "cuda_Mul", kExact});
    run_case({"Div " + t, "Div", "", 17, {data("a", dt, {3, 7}), data("b", dt, {3, 7}, 0.5, 2)}, {}, 1, "cuda_Div", kExact});
    run_case({"Max " + t, "Max", "", 17, {data("a", dt, {2, 3, 4}), data("b", dt, {3, 1})}, {}, 1, "cuda_Max", kExact});
    run_case({"Min scalar " + t, "Min", "", 17, {data("a", dt, {5, 9}), weight("b", dt, {})}, {}, 1, "cuda_Min", kExact});
    run_case({"Pow " + t, "Pow", "", 17, {data("a", dt, {4, 6}, 0.25, 3), data("b", dt, {6}, -2, 2)}, {}, 1, "cuda_Pow", kExact});
  }
  // A long run of 16-byte packs and a tail, same shapes.
  run_case({"Add long", "Add", "", 17, {data("a", DataType::kFloat16, {1, 4099}), data("b", DataType::kFloat16, {1, 4099})}, {}, 1,
            "cuda_Add", kExact});
}

// Activations no cuBLASLt epilogue computes exactly (erf GELU as BERT's FFN has it, Tanh as its
// pooler has it) run after the product as the unary kernel, so the layer stays on the device.
TEST(CudaBackend, FusedMatMulActivationsWithoutAnEpilogue) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16}) {
    const std::string t = dtype_name(dt);
    const Tolerance tol = dt == DataType::kFloat32 ? Tolerance{1e-5, 1e-5} : Tolerance{1e-2, 1e-2};
    run_case({"FusedMatMul bias Gelu " + t, "FusedMatMul", "kiln", 1, {data("a", dt, {2, 5, 64}, -1, 1), weight("b", dt, {64, 48}, -0.3, 0.3), weight("bias", dt, {48})},
              [](Attributes& a) { a.set_string("activation", "Gelu"); }, 1, "cublaslt_fused_matmul", tol});
    run_case({"FusedMatMul bias Tanh " + t, "FusedMatMul", "kiln", 1, {data("a", dt, {3, 64}, -1, 1), weight("b", dt, {64, 40}, -0.3, 0.3), weight("bias", dt, {40})},
              [](Attributes& a) { a.set_string("activation", "Tanh"); }, 1, "cublaslt_fused_matmul", tol});
    run_case({"FusedMatMul residual post Gelu " + t, "FusedMatMul", "kiln", 1,
              {data("a", dt, {4, 64}, -1, 1), weight("b", dt, {64, 32}, -0.3, 0.3), weight("bias", dt, {32}), data("z", dt, {4, 32})},
              [](Attributes& a) { a.set_string("post_activation", "Gelu"); }, 1, "cublaslt_fused_matmul", tol});
  }
}

// float32 products on TF32 tensor cores unless --no-tf32: the layer says "tf32" and stays within
// TF32's rounding (10-bit mantissa) of the exact product.
TEST(CudaBackend, Tf32UnlessTurnedOff) {
  KILN_REQUIRE_CUDA();
  OpCase c{"MatMul tf32", "MatMul", "", 17, {data("a", DataType::kFloat32, {64, 128}, -1, 1), weight("b", DataType::kFloat32, {128, 96}, -1, 1)}};
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 0;
  for (bool tf32 : {true, false}) {
    config.allow_tf32 = tf32;
    auto e = test::build(graph_of(c), config);
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_EQ(layer_named(e->info(), "op")->precision, tf32 ? "tf32" : "");
    auto ref = build_for("reference", graph_of(c));
    ASSERT_TRUE(ref.ok());
    auto ctx = e->create_execution_context();
    auto rctx = ref->create_execution_context();
    ASSERT_TRUE(ctx.ok() && rctx.ok());
    const NamedTensors in = feeds_of(c, 0);
    NamedTensors got, want;
    ASSERT_TRUE((*ctx)->run(in, &got).ok());
    ASSERT_TRUE((*rctx)->run(in, &want).ok());
    double err = 0, norm = 0;
    for (int64_t i = 0; i < want.at("y0").numel(); ++i) {
      const double d = value_at(got.at("y0"), i) - value_at(want.at("y0"), i);
      err += d * d;
      norm += value_at(want.at("y0"), i) * value_at(want.at("y0"), i);
    }
    const double rel = std::sqrt(err / norm);
    if (tf32) {
      EXPECT_LT(rel, 5e-3);
      EXPECT_GT(rel, 1e-6) << "TF32 rounds the inputs: an exact result means it was not used";
    } else {
      EXPECT_LT(rel, 1e-6);
    }
  }
}

TEST(CudaBackend, CastBetweenFloatTypesGivesTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const std::pair<DataType, DataType> pairs[] = {{DataType::kFloat32, DataType::kFloat16}, {DataType::kFloat32, DataType::kBFloat16},
                                                 {DataType::kFloat16, DataType::kBFloat16}, {DataType::kBFloat16, DataType::kFloat32},
                                                 {DataType::kFloat16, DataType::kFloat32},  {DataType::kFloat32, DataType::kFloat32}};
  for (const auto& [from, to] : pairs) {
    const DataType target = to;
    // Values past float16's range (65504) too: they must become inf on both backends.
    run_case({fmt::format("Cast {} to {}", dtype_name(from), dtype_name(to)), "Cast", "", 17, {data("x", from, {3, 333}, -1e5, 1e5)},
              [target](Attributes& a) { a.set_int("to", static_cast<int64_t>(target)); }, 1, "cuda_cast", kExact});
  }
}

void set_steps(Attributes& a, std::vector<std::string> ops, std::vector<int64_t> operands, std::vector<int64_t> swapped) {
  Attribute list;
  list.kind = Attribute::Kind::kStrings;
  list.strings = std::move(ops);
  a.set("ops", list);
  a.set_ints("operands", std::move(operands));
  a.set_ints("swapped", std::move(swapped));
}

TEST(CudaBackend, FusedPointwiseMatchesTheUnfusedChain) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    // Exactly computed steps: the reference's bits.
    run_case({"FusedPointwise exact " + t, "FusedPointwise", "kiln", 1, {data("x", dt, {4, 33}), weight("e1", dt, {33}), data("e2", dt, {4, 1})},
              [](Attributes& a) { set_steps(a, {"Mul", "Add", "Relu", "Sub", "Max"}, {1, 2, 0, 1, 2}, {0, 1, 0, 1, 0}); }, 1,
              "cuda_fused_pointwise", kExact});
    // Transcendental steps: CUDA's expf/tanhf are within 2 ulp of the reference's libm.
    Tolerance tol = rounding_of(dt);
    if (dt == DataType::kFloat32) tol = {1e-5, 1e-6};
    run_case({"FusedPointwise transcendental " + t, "FusedPointwise", "kiln", 1, {data("x", dt, {2, 3, 40}), data("e1", dt, {3, 1})},
              [](Attributes& a) { set_steps(a, {"Tanh", "Mul", "Sigmoid", "Div"}, {0, 1, 0, 1}, {0, 0, 0, 1}); }, 1, "cuda_fused_pointwise",
              tol});
  }
}

// --- normalization, softmax, reductions --------------------------------------------------------

TEST(CudaBackend, LayerAndRmsNormalization) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    const Tolerance tol = dt == DataType::kFloat32 ? Tolerance{1e-4, 1e-5} : rounding_of(dt);
    run_case({"LayerNorm last axis " + t, "LayerNormalization", "", 17, {data("x", dt, {6, 5, 96}, -3, 5), weight("s", dt, {96}), weight("b", dt, {96})},
              {}, 1, "cuda_layer_normalization", tol});
    run_case({"RMSNorm " + t, "RMSNormalization", "kiln", 1, {data("x", dt, {3, 7, 130}), weight("s", dt, {130})},
              [](Attributes& a) { a.set_float("epsilon", 1e-6f); }, 1, "cuda_rms_normalization", tol});
  }
  const Tolerance f32{1e-4, 1e-5};
  // Normalized over two dims, the parameters holding both; no bias; both statistics (fp32).
  run_case({"LayerNorm axis 1", "LayerNormalization", "", 17, {data("x", DataType::kFloat32, {4, 5, 24}), weight("s", DataType::kFloat32, {1, 5, 24})},
            [](Attributes& a) {
              a.set_int("axis", 1);
              a.set_float("epsilon", 1e-3f);
            },
            3, "cuda_layer_normalization", f32});
  // Rows longer than one block holds (the kernel's three-pass path).
  run_case({"LayerNorm long rows", "LayerNormalization", "", 17,
            {data("x", DataType::kFloat32, {2, 20000}, -1, 3), weight("s", DataType::kFloat32, {20000}), weight("b", DataType::kFloat32, {20000})}, {}, 1,
            "cuda_layer_normalization", f32});
  run_case({"RMSNorm long rows", "RMSNormalization", "kiln", 1, {data("x", DataType::kBFloat16, {3, 17000}), weight("s", DataType::kBFloat16, {17000})},
            {}, 1, "cuda_rms_normalization", rounding_of(DataType::kBFloat16)});
}

TEST(CudaBackend, SoftmaxAndLogSoftmaxOverRows) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    const Tolerance tol = dt == DataType::kFloat32 ? Tolerance{1e-5, 1e-7} : rounding_of(dt);
    run_case({"Softmax " + t, "Softmax", "", 13, {data("x", dt, {4, 3, 77}, -8, 8)}, {}, 1, "cuda_softmax", tol});
    run_case({"LogSoftmax " + t, "LogSoftmax", "", 13, {data("x", dt, {5, 300}, -8, 8)}, {}, 1, "cuda_log_softmax",
              dt == DataType::kFloat32 ? Tolerance{1e-5, 1e-5} : rounding_of(dt)});
  }
  // Opset 11's 2-D coercion: axis 1 of [2, 3, 4, 5] is rows of 60.
  run_case({"Softmax opset 11 axis 1", "Softmax", "", 11, {data("x", DataType::kFloat32, {2, 3, 4, 5}, -8, 8)},
            [](Attributes& a) { a.set_int("axis", 1); }, 1, "cuda_softmax", {1e-5, 1e-7}});
  // An axis whose trailing dims are 1 is a row too.
  run_case({"Softmax axis 1 of [3, 50, 1]", "Softmax", "", 13, {data("x", DataType::kFloat32, {3, 50, 1}, -8, 8)},
            [](Attributes& a) { a.set_int("axis", 1); }, 1, "cuda_softmax", {1e-5, 1e-7}});
  // Rows longer than one block holds (online softmax).
  run_case({"Softmax long rows", "Softmax", "", 13, {data("x", DataType::kFloat32, {3, 20000}, -8, 8)}, {}, 1, "cuda_softmax", {1e-4, 1e-9}});
}

TEST(CudaBackend, ReductionsOverOneRunOfAxes) {
  KILN_REQUIRE_CUDA();
  const Tolerance f32{1e-5, 1e-5};
  run_case({"ReduceSum last axis (input)", "ReduceSum", "", 13, {data("x", DataType::kFloat32, {4, 5, 33}), ints("axes", {-1})}, {}, 1, "cuda_ReduceSum", f32});
  run_case({"ReduceMean middle axes keepdims 0", "ReduceMean", "", 17, {data("x", DataType::kFloat32, {2, 3, 4, 5})},
            [](Attributes& a) {
              a.set_ints("axes", {1, 2});
              a.set_int("keepdims", 0);
            },
            1, "cuda_ReduceMean", f32});
  run_case({"ReduceMax leading axis (input)", "ReduceMax", "", 18, {data("x", DataType::kFloat32, {7, 9}), ints("axes", {0})}, {}, 1, "cuda_ReduceMax", kExact});
  run_case({"ReduceSum all axes", "ReduceSum", "", 13, {data("x", DataType::kFloat32, {3, 50})}, {}, 1, "cuda_ReduceSum", f32});
  // Axes 0 and 2 with a dim of 1 between them: one run.
  run_case({"ReduceSum across a dim of 1", "ReduceSum", "", 13, {data("x", DataType::kFloat32, {4, 1, 6}), ints("axes", {0, 2})}, {}, 1, "cuda_ReduceSum", f32});
  run_case({"ReduceMean rows f16", "ReduceMean", "", 18, {data("x", DataType::kFloat16, {6, 2000}), ints("axes", {-1})}, {}, 1, "cuda_ReduceMean",
            rounding_of(DataType::kFloat16)});
  run_case({"ReduceMax middle bf16", "ReduceMax", "", 17, {data("x", DataType::kBFloat16, {3, 40, 70})}, [](Attributes& a) { a.set_ints("axes", {1}); },
            1, "cuda_ReduceMax", kExact});
}

// --- data movement -----------------------------------------------------------------------------

TEST(CudaBackend, TransposeConcatSplitMoveTheBits) {
  KILN_REQUIRE_CUDA();
  run_case({"Transpose NCHW to NHWC", "Transpose", "", 17, {data("x", DataType::kFloat32, {2, 3, 4, 5})},
            [](Attributes& a) { a.set_ints("perm", {0, 2, 3, 1}); }, 1, "cuda_transpose", kExact});
  run_case({"Transpose 2-D int64", "Transpose", "", 17, {data("x", DataType::kInt64, {33, 17}, -1000, 1000)},
            [](Attributes& a) { a.set_ints("perm", {1, 0}); }, 1, "cuda_transpose", kExact});
  run_case({"Transpose reversed uint8", "Transpose", "", 17, {data("x", DataType::kUInt8, {2, 3, 4}, 0, 255)}, {}, 1, "cuda_transpose", kExact});
  run_case({"Concat axis 1 f16", "Concat", "", 17,
            {data("a", DataType::kFloat16, {2, 3, 4}), data("b", DataType::kFloat16, {2, 5, 4}), weight("c", DataType::kFloat16, {2, 1, 4})},
            [](Attributes& a) { a.set_int("axis", 1); }, 1, "cuda_concat", kExact});
  {
    OpCase many{"Concat of 20 inputs", "Concat", "", 17, {}, [](Attributes& a) { a.set_int("axis", -1); }, 1, "cuda_concat", kExact};
    for (int i = 0; i < 20; ++i) many.ins.push_back(data(fmt::format("x{}", i), DataType::kInt32, {3, 1 + i % 3}, -50, 50));
    run_case(many);
  }
  run_case({"Split by sizes", "Split", "", 13, {data("x", DataType::kFloat32, {3, 8, 4}), ints("split", {2, 5, 1})},
            [](Attributes& a) { a.set_int("axis", 1); }, 3, "cuda_split", kExact});
  run_case({"Split uneven opset 18", "Split", "", 18, {data("x", DataType::kBFloat16, {2, 10})},
            [](Attributes& a) {
              a.set_int("axis", 1);
              a.set_int("num_outputs", 3);
            },
            3, "cuda_split", kExact});
}

TEST(CudaBackend, SliceClampsLikeTheReference) {
  KILN_REQUIRE_CUDA();
  run_case({"Slice negative step", "Slice", "", 13,
            {data("x", DataType::kFloat32, {5, 3, 9}), ints("starts", {1, -1}), ints("ends", {4, -100}), ints("axes", {0, 2}), ints("steps", {1, -2})}, {}, 1,
            "cuda_slice", kExact});
  run_case({"Slice clamped, int32 params", "Slice", "", 13,
            {data("x", DataType::kFloat16, {4, 6}), ints("starts", {-100}, DataType::kInt32), ints("ends", {100}, DataType::kInt32),
             ints("axes", {1}, DataType::kInt32)},
            {}, 1, "cuda_slice", kExact});
  // axes left out, steps given.
  run_case({"Slice without axes", "Slice", "", 13,
            {data("x", DataType::kUInt8, {7, 5}, 0, 255), ints("starts", {6, 1}), ints("ends", {0, 5}), omitted(), ints("steps", {-3, 2})}, {}, 1,
            "cuda_slice", kExact});
  run_case({"Slice opset 9 attributes", "Slice", "", 9, {data("x", DataType::kInt64, {6, 7}, -9, 9)},
            [](Attributes& a) {
              a.set_ints("starts", {1, 2});
              a.set_ints("ends", {5, 1000});
            },
            1, "cuda_slice", kExact});
}

TEST(CudaBackend, GatherRowsAndColumns) {
  KILN_REQUIRE_CUDA();
  run_case({"Gather embedding rows", "Gather", "", 13,
            {data("table", DataType::kFloat32, {50, 24}), int_data("ids", DataType::kInt64, {2, 5}, {0, 3, -1, 49, -50, 7, 7, 0, 25, 11})}, {}, 1,
            "cuda_gather", kExact});
  run_case({"Gather axis 1 int32 constant indices", "Gather", "", 13,
            {data("x", DataType::kFloat16, {3, 10, 4}), ints("idx", {0, -1, 9, 3}, DataType::kInt32)}, [](Attributes& a) { a.set_int("axis", 1); }, 1,
            "cuda_gather", kExact});
}

// Indices in device memory are not checked (that would need a device-to-host read and a wait in
// the middle of the run): an index out of range gives a row of zeros, no error. The reference
// reports it; this pins down the documented difference.
TEST(CudaBackend, GatherIndexOutOfRangeOnTheDeviceGivesZeros) {
  KILN_REQUIRE_CUDA();
  const OpCase c{"Gather out of range", "Gather", "", 13,
                 {data("table", DataType::kFloat32, {10, 8}), int_data("ids", DataType::kInt64, {3}, {2, 10, -11})}, {}, 1, "cuda_gather", kExact};
  auto cuda = build_for("cuda", graph_of(c));
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ctx = cuda->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  const NamedTensors in = feeds_of(c, 0);
  NamedTensors out{{"y0", poisoned(DataType::kFloat32, {3, 8})}};
  const Status s = (*ctx)->run(in, &out);
  ASSERT_TRUE(s.ok()) << s.message();
  const Tensor& table = in.at("table");
  for (int64_t j = 0; j < 8; ++j) {
    EXPECT_EQ(value_at(out.at("y0"), j), value_at(table, 2 * 8 + j)) << j;
    EXPECT_EQ(value_at(out.at("y0"), 8 + j), 0.0) << j;
    EXPECT_EQ(value_at(out.at("y0"), 16 + j), 0.0) << j;
  }
}

// GatherND: tuples of k indices pick slices after batch_dims shared leading dims; negative
// indices count from the end. Indices are graph inputs (device memory) unless said otherwise.
TEST(CudaBackend, GatherNdGivesTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const DataType i64 = DataType::kInt64, f32 = DataType::kFloat32;
  auto batch_dims = [](int64_t b) { return [b](Attributes& a) { a.set_int("batch_dims", b); }; };
  run_case({"GatherND f32 rows by pairs", "GatherND", "", 13, {data("x", f32, {4, 5, 6}), int_data("i", i64, {3, 2}, {0, 0, 3, -1, -4, 2})}, {}, 1,
            "cuda_gather_nd", kExact});
  // The exporter's attention mask: a [batch, 1, 1, seq, 2] grid of (b, j) over a bool [batch, seq].
  std::vector<int64_t> grid;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t j = 0; j < 7; ++j) grid.insert(grid.end(), {b, j});
  }
  run_case({"GatherND bool elements", "GatherND", "", 13, {data("m", DataType::kBool, {2, 7}, 0, 2), int_data("i", i64, {2, 1, 1, 7, 2}, grid)}, {}, 1,
            "cuda_gather_nd", kExact});
  // A grid in another order (a transpose through GatherND).
  std::vector<int64_t> transposed;
  for (int64_t j = 0; j < 7; ++j) {
    for (int64_t b = 0; b < 2; ++b) transposed.insert(transposed.end(), {b, -7 + j});
  }
  run_case({"GatherND int64 transposed", "GatherND", "", 13,
            {data("m", i64, {2, 7}, -1e12, 1e12), int_data("i", i64, {7, 2, 2}, transposed)}, {}, 1, "cuda_gather_nd", kExact});
  run_case({"GatherND f16 batch_dims 1", "GatherND", "", 13,
            {data("x", DataType::kFloat16, {2, 3, 4}), int_data("i", i64, {2, 2, 1}, {2, 0, -1, 1})}, batch_dims(1), 1, "cuda_gather_nd", kExact});
  // batch_dims 2 with constant indices; slices of 5 int32 (20 bytes: moved 4 bytes at a time).
  run_case({"GatherND int32 batch_dims 2 constant", "GatherND", "", 13,
            {data("x", DataType::kInt32, {2, 3, 4, 5}, -1e9, 1e9), In{In::kIntConst, "i", i64, {2, 3, 2, 1}, 0, 0, {3, 0, -1, 1, 2, 2, 0, 0, -4, 3, 1, 2}}},
            batch_dims(2), 1, "cuda_gather_nd", kExact});
  // Odd slices of bytes; and slices of 8 bf16 (16 bytes: one 16-byte unit where aligned).
  run_case({"GatherND uint8 odd slices", "GatherND", "", 13, {data("x", DataType::kUInt8, {5, 3}, 0, 256), int_data("i", i64, {4, 1}, {4, 0, -2, 4})}, {},
            1, "cuda_gather_nd", kExact});
  run_case({"GatherND bf16 16-byte slices", "GatherND", "", 13,
            {data("x", DataType::kBFloat16, {3, 4, 8}), int_data("i", i64, {2, 3, 2}, {0, 0, 2, 3, 1, -1, -3, 0, 0, 2, 1, 1})}, {}, 1, "cuda_gather_nd",
            kExact});
  // Opset 11: no batch_dims attribute.
  run_case({"GatherND opset 11", "GatherND", "", 11, {data("x", f32, {3, 4}), int_data("i", i64, {2, 1}, {2, -3})}, {}, 1, "cuda_gather_nd", kExact});
}

// As the cuda Gather: a tuple out of range in device memory gives a slice of zeros, no error (the
// reference reports it).
TEST(CudaBackend, GatherNdIndexOutOfRangeOnTheDeviceGivesZeros) {
  KILN_REQUIRE_CUDA();
  const OpCase c{"GatherND out of range", "GatherND", "", 13,
                 {data("x", DataType::kFloat32, {4, 3}), int_data("i", DataType::kInt64, {3, 1}, {2, 4, -5})}, {}, 1, "cuda_gather_nd", kExact};
  auto cuda = build_for("cuda", graph_of(c));
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ctx = cuda->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  const NamedTensors in = feeds_of(c, 0);
  NamedTensors out{{"y0", poisoned(DataType::kFloat32, {3, 3})}};
  const Status s = (*ctx)->run(in, &out);
  ASSERT_TRUE(s.ok()) << s.message();
  const Tensor& x = in.at("x");
  for (int64_t j = 0; j < 3; ++j) {
    EXPECT_EQ(value_at(out.at("y0"), j), value_at(x, 2 * 3 + j)) << j;
    EXPECT_EQ(value_at(out.at("y0"), 3 + j), 0.0) << j;
    EXPECT_EQ(value_at(out.at("y0"), 6 + j), 0.0) << j;
  }
}

TEST(CudaBackend, ShapeOpsCopyTheElements) {
  KILN_REQUIRE_CUDA();
  run_case({"Reshape", "Reshape", "", 17, {data("x", DataType::kFloat32, {2, 3, 4}), ints("shape", {4, -1})}, {}, 1, "cuda_reshape", kExact});
  run_case({"Flatten axis 2", "Flatten", "", 17, {data("x", DataType::kFloat16, {2, 3, 4, 5})}, [](Attributes& a) { a.set_int("axis", 2); }, 1,
            "cuda_flatten", kExact});
  run_case({"Squeeze", "Squeeze", "", 13, {data("x", DataType::kInt64, {3, 1, 4}, -5, 5), ints("axes", {1})}, {}, 1, "cuda_squeeze", kExact});
  run_case({"Unsqueeze", "Unsqueeze", "", 13, {data("x", DataType::kBFloat16, {3, 4}), ints("axes", {0, 3})}, {}, 1, "cuda_unsqueeze", kExact});
  run_case({"Identity", "Identity", "", 17, {data("x", DataType::kInt32, {7, 3}, -100, 100)}, {}, 1, "cuda_identity", kExact});
  // Inference Dropout with its mask: all true.
  run_case({"Dropout with mask", "Dropout", "", 13, {data("x", DataType::kFloat32, {4, 9})}, {}, 2, "cuda_dropout", kExact});
}

// --- pooling -----------------------------------------------------------------------------------

// kernel_shape, and strides / pads / dilations where given.
std::function<void(Attributes&)> pool_attrs(std::vector<int64_t> kernel, std::vector<int64_t> strides = {}, std::vector<int64_t> pads = {},
                                            std::function<void(Attributes&)> more = {}) {
  return [=](Attributes& a) {
    a.set_ints("kernel_shape", kernel);
    if (!strides.empty()) a.set_ints("strides", strides);
    if (!pads.empty()) a.set_ints("pads", pads);
    if (more) more(a);
  };
}

// Values equal, NaN for NaN (the payload of a 16-bit NaN may differ: the reference rounds through
// its own float conversion).
constexpr Tolerance kSameValues{1e-12, 0};

TEST(CudaBackend, WindowedPoolsGiveTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const DataType f32 = DataType::kFloat32, f16 = DataType::kFloat16;
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    // ResNet's stem pool: 3x3, stride 2, pads 1 (windows cut at every border).
    run_case({"MaxPool 3x3 s2 p1 " + t, "MaxPool", "", 12, {data("x", dt, {2, 5, 13, 12})}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}), 1,
              "cuda_max_pool", kExact});
    // Averages sum the taps in the reference's order in fp32 and divide once: its bits too.
    run_case({"AveragePool 3x3 s2 p1 " + t, "AveragePool", "", 17, {data("x", dt, {2, 5, 13, 12})}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}), 1,
              "cuda_average_pool", kExact});
    run_case({"AveragePool count_include_pad " + t, "AveragePool", "", 17, {data("x", dt, {2, 3, 9, 10})},
              pool_attrs({3, 2}, {2, 2}, {1, 0, 1, 1}, [](Attributes& a) { a.set_int("count_include_pad", 1); }), 1, "cuda_average_pool",
              kExact});
  }
  // ceil_mode: the last windows hang over the end (H: 5 windows, W: 4, the last one of one tap).
  for (const char* op : {"MaxPool", "AveragePool"}) {
    const std::string kernel = std::string(op) == "MaxPool" ? "cuda_max_pool" : "cuda_average_pool";
    const std::string o = op;
    run_case({o + " ceil_mode", op, "", 12, {data("x", f32, {1, 3, 10, 9})},
              pool_attrs({3, 2}, {2, 3}, {0, 1, 1, 0}, [](Attributes& a) { a.set_int("ceil_mode", 1); }), 1, kernel, kExact});
    // A ceil-mode window that would start inside the end padding is dropped (3 windows, not 4).
    run_case({o + " ceil_mode dropped window", op, "", 12, {data("x", f32, {1, 2, 6, 6})},
              pool_attrs({2, 2}, {2, 2}, {0, 0, 1, 1}, [](Attributes& a) { a.set_int("ceil_mode", 1); }), 1, kernel, kExact});
    // Dilations with asymmetric pads (AveragePool has them from opset 19).
    run_case({o + " dilated", op, "", 19, {data("x", f32, {2, 2, 11, 10})},
              pool_attrs({3, 2}, {1, 2}, {2, 0, 1, 1}, [](Attributes& a) { a.set_ints("dilations", {2, 3}); }), 1, kernel, kExact});
    for (const char* auto_pad : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
      const std::string ap = auto_pad;
      run_case({o + " " + ap, op, "", 12, {data("x", f32, {1, 4, 7, 8})},
                pool_attrs({2, 3}, {2, 2}, {}, [ap](Attributes& a) { a.set_string("auto_pad", ap); }), 1, kernel, kExact});
    }
    run_case({o + " 1-D", op, "", 12, {data("x", f16, {3, 4, 17})}, pool_attrs({4}, {3}, {2, 1}), 1, kernel, kExact});
    run_case({o + " 3-D", op, "", 12, {data("x", f32, {1, 3, 5, 6, 7})}, pool_attrs({2, 3, 2}, {2, 1, 2}, {1, 1, 0, 0, 1, 1}), 1, kernel, kExact});
    // Pads as large as the kernel: the first and last windows hold no tap and give 0.
    run_case({o + " empty windows", op, "", 12, {data("x", f32, {1, 2, 5, 5})}, pool_attrs({2, 2}, {2, 2}, {2, 2, 2, 2}), 1, kernel, kExact});
  }
  run_case({"AveragePool empty windows count_include_pad", "AveragePool", "", 12, {data("x", f32, {1, 2, 5, 5})},
            pool_attrs({2, 2}, {2, 2}, {2, 2, 2, 2}, [](Attributes& a) { a.set_int("count_include_pad", 1); }), 1, "cuda_average_pool", kExact});
}

// kiln.MaxPool as the layout pass makes it: channels-last X (N, H, W, C). C a multiple of the
// 16-byte pack (4 float32, 8 16-bit) takes the vector path, other C the scalar one.
TEST(CudaBackend, ChannelsLastMaxPoolGivesTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const std::pair<DataType, int64_t> cases[] = {{DataType::kFloat32, 64}, {DataType::kFloat32, 3},  {DataType::kFloat16, 16},
                                                {DataType::kFloat16, 8},  {DataType::kBFloat16, 12}, {DataType::kBFloat16, 24}};
  for (const auto& [dt, c] : cases) {
    run_case({fmt::format("kiln.MaxPool NHWC C={} {}", c, short_name(dt)), "MaxPool", "kiln", 1, {data("x", dt, {2, 11, 10, c})},
              pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, [](Attributes& a) { a.set_int("channels_last", 1); }), 1, "cuda_max_pool", kExact});
  }
  run_case({"kiln.MaxPool NHWC ceil_mode", "MaxPool", "kiln", 1, {data("x", DataType::kFloat32, {1, 10, 9, 8})},
            pool_attrs({3, 2}, {2, 3}, {0, 1, 1, 0},
                       [](Attributes& a) {
                         a.set_int("channels_last", 1);
                         a.set_int("ceil_mode", 1);
                       }),
            1, "cuda_max_pool", kExact});
  // channels_last 0: ONNX MaxPool's layout.
  run_case({"kiln.MaxPool NCHW", "MaxPool", "kiln", 1, {data("x", DataType::kFloat16, {2, 3, 9, 8})}, pool_attrs({2, 2}, {2, 2}), 1,
            "cuda_max_pool", kExact});
}

TEST(CudaBackend, GlobalPools) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kFloats) {
    const std::string t = short_name(dt);
    // The average sums in another order than the reference (a tree): within rounding.
    const Tolerance tol = dt == DataType::kFloat32 ? Tolerance{1e-5, 1e-6} : rounding_of(dt);
    run_case({"GlobalAveragePool 7x7 " + t, "GlobalAveragePool", "", 17, {data("x", dt, {2, 64, 7, 7})}, {}, 1, "cuda_global_average_pool", tol});
    run_case({"GlobalMaxPool " + t, "GlobalMaxPool", "", 17, {data("x", dt, {2, 6, 9, 11})}, {}, 1, "cuda_global_max_pool", kExact});
  }
  // Planes longer than a warp's rows (the block path of the row reduction), 1 and 3 spatial axes.
  run_case({"GlobalAveragePool 56x56", "GlobalAveragePool", "", 17, {data("x", DataType::kFloat32, {1, 4, 56, 56})}, {}, 1,
            "cuda_global_average_pool", {1e-5, 1e-6}});
  run_case({"GlobalAveragePool 1-D", "GlobalAveragePool", "", 17, {data("x", DataType::kFloat32, {3, 5, 11})}, {}, 1, "cuda_global_average_pool",
            {1e-5, 1e-6}});
  run_case({"GlobalMaxPool 3-D", "GlobalMaxPool", "", 17, {data("x", DataType::kBFloat16, {2, 3, 4, 5, 6})}, {}, 1, "cuda_global_max_pool", kExact});
  run_case({"GlobalMaxPool long planes", "GlobalMaxPool", "", 17, {data("x", DataType::kFloat32, {1, 3, 40, 40})}, {}, 1, "cuda_global_max_pool",
            kExact});
}

// The reference takes a window's first tap and then each greater one, so a NaN wins only as the
// first tap, and of equal values (+0 and -0) the first stays.
TEST(CudaBackend, MaxPoolsTreatNaNAndSignedZerosAsTheReference) {
  KILN_REQUIRE_CUDA();
  const FeedEdit nans = [](NamedTensors& feeds, int run) {
    Tensor& x = feeds.at("x");
    for (int64_t i = run; i < x.numel(); i += 7) set_value(x, i, std::nan(""));
  };
  const DataType f32 = DataType::kFloat32;
  run_case({"MaxPool NaN", "MaxPool", "", 12, {data("x", f32, {2, 3, 9, 10})}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}), 1, "cuda_max_pool", kExact},
           nans);
  run_case({"MaxPool NaN dilated ceil_mode", "MaxPool", "", 12, {data("x", f32, {1, 2, 11, 10})},
            pool_attrs({3, 2}, {2, 2}, {1, 0, 1, 1},
                       [](Attributes& a) {
                         a.set_ints("dilations", {2, 2});
                         a.set_int("ceil_mode", 1);
                       }),
            1, "cuda_max_pool", kExact},
           nans);
  run_case({"kiln.MaxPool NaN NHWC", "MaxPool", "kiln", 1, {data("x", f32, {1, 6, 7, 8})},
            pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, [](Attributes& a) { a.set_int("channels_last", 1); }), 1, "cuda_max_pool", kExact},
           nans);
  // Planes of 36: some start with a NaN, others hold one later.
  run_case({"GlobalMaxPool NaN", "GlobalMaxPool", "", 17, {data("x", f32, {2, 5, 6, 6})}, {}, 1, "cuda_global_max_pool", kExact}, nans);
  for (DataType dt : {DataType::kFloat16, DataType::kBFloat16}) {
    run_case({"MaxPool NaN " + short_name(dt), "MaxPool", "", 12, {data("x", dt, {2, 3, 9, 10})}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}), 1,
              "cuda_max_pool", kSameValues},
             nans);
    run_case({"GlobalMaxPool NaN " + short_name(dt), "GlobalMaxPool", "", 17, {data("x", dt, {2, 5, 6, 6})}, {}, 1, "cuda_global_max_pool",
              kSameValues},
             nans);
  }
  // Planes of negatives holding -0 and +0 in either order (and windows of them): the first zero
  // is the result.
  const FeedEdit zeros = [](NamedTensors& feeds, int run) {
    Tensor& x = feeds.at("x");
    for (int64_t i = 0; i < x.numel(); ++i) set_value(x, i, -1.0 - static_cast<double>(i % 5));
    for (int64_t i = 0; i + 1 < x.numel(); i += 3) {
      set_value(x, i, (i / 3 + run) % 2 ? -0.0 : 0.0);
      set_value(x, i + 1, (i / 3 + run) % 2 ? 0.0 : -0.0);
    }
  };
  run_case({"GlobalMaxPool signed zeros", "GlobalMaxPool", "", 17, {data("x", f32, {3, 4, 100})}, {}, 1, "cuda_global_max_pool", kExact}, zeros);
  run_case({"MaxPool signed zeros", "MaxPool", "", 12, {data("x", f32, {1, 2, 9, 9})}, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), 1, "cuda_max_pool",
            kExact},
           zeros);
}

// --- Cast with integers and bool ---------------------------------------------------------------

std::function<void(Attributes&)> cast_attrs(DataType to) {
  return [to](Attributes& a) { a.set_int("to", static_cast<int64_t>(to)); };
}

TEST(CudaBackend, CastWithIntegersAndBoolGivesTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const DataType i64 = DataType::kInt64, i32 = DataType::kInt32;
  // int64 past 2^24 (float32 rounds), past 2^53 (double rounds first, as the reference does), the
  // limits, and float16's overflow edge (65519 rounds down, 65520 to inf).
  const std::vector<int64_t> big = {0,       1,         -1,          (int64_t{1} << 24) + 1, -(int64_t{1} << 24) - 3, (int64_t{1} << 53) + 1,
                                    (int64_t{1} << 62) + 12345, INT64_MAX, INT64_MIN, 65504, 65520, 65519,
                                    123456789, -987654321, (int64_t{1} << 40) + (int64_t{1} << 16) + 1, 2147483648};
  // BERT's attention mask: Cast from int64 to the float types.
  for (DataType to : kFloats) {
    run_case({"Cast int64 to " + short_name(to), "Cast", "", 17, {int_data("x", i64, {4, 4}, big)}, cast_attrs(to), 1, "cuda_cast", kExact});
    run_case({"Cast int32 to " + short_name(to), "Cast", "", 17, {data("x", i32, {5, 33}, -2147483648.0, 2147483647.0)}, cast_attrs(to), 1,
              "cuda_cast", kExact});
    run_case({"Cast bool to " + short_name(to), "Cast", "", 17, {data("x", DataType::kBool, {3, 7}, 0, 2)}, cast_attrs(to), 1, "cuda_cast", kExact});
    run_case({"Cast uint8 to " + short_name(to), "Cast", "", 17, {data("x", DataType::kUInt8, {3, 9}, 0, 256)}, cast_attrs(to), 1, "cuda_cast",
              kExact});
    run_case({"Cast int8 to " + short_name(to), "Cast", "", 17, {data("x", DataType::kInt8, {3, 9}, -128, 128)}, cast_attrs(to), 1, "cuda_cast",
              kExact});
  }
  // Floats to integers: truncation, NaN to 0, saturation beyond the int64 range, wrap-around
  // inside it (3e9 into int32 or int8), -0, halves.
  const std::vector<double> edges = {std::nan(""), INFINITY, -INFINITY, 1e20,   -1e20, 3e9,    -3e9,   2147483648.0, -2147483649.0, 255.5,
                                     256.7,        -1.5,     -0.0,      0.4,    -0.7,  9.2233720368547758e18, -9.2233720368547758e18,
                                     1e19,         127.9,    -128.9,    200,    -200,  65504,  1234.5678, -0.99, 4294967296.0, 1e10,
                                     -1e10,        0.5,      33.3,      -77.7,  1};
  const FeedEdit put_edges = [edges](NamedTensors& feeds, int run) {
    Tensor& x = feeds.at("x");
    for (int64_t i = 0; i < x.numel(); ++i) set_value(x, i, edges[static_cast<size_t>(i + run) % edges.size()]);
  };
  for (DataType from : kFloats) {
    for (DataType to : {i64, i32, DataType::kInt8, DataType::kUInt8, DataType::kBool}) {
      run_case({fmt::format("Cast {} to {}", short_name(from), short_name(to)), "Cast", "", 17, {data("x", from, {4, 8})}, cast_attrs(to), 1,
                "cuda_cast", kExact},
               put_edges);
    }
  }
  // Between integer types (wrapping) and bool.
  run_case({"Cast int64 to int32", "Cast", "", 17, {int_data("x", i64, {4, 4}, big)}, cast_attrs(i32), 1, "cuda_cast", kExact});
  run_case({"Cast int64 to uint8", "Cast", "", 17, {int_data("x", i64, {4, 4}, big)}, cast_attrs(DataType::kUInt8), 1, "cuda_cast", kExact});
  run_case({"Cast int64 to bool", "Cast", "", 17, {int_data("x", i64, {4, 4}, big)}, cast_attrs(DataType::kBool), 1, "cuda_cast", kExact});
  run_case({"Cast int32 to int64", "Cast", "", 17, {data("x", i32, {5, 9}, -2147483648.0, 2147483647.0)}, cast_attrs(i64), 1, "cuda_cast", kExact});
  run_case({"Cast bool to int64", "Cast", "", 17, {data("x", DataType::kBool, {6, 5}, 0, 2)}, cast_attrs(i64), 1, "cuda_cast", kExact});
  run_case({"Cast uint8 to int32", "Cast", "", 17, {data("x", DataType::kUInt8, {6, 5}, 0, 256)}, cast_attrs(i32), 1, "cuda_cast", kExact});
  run_case({"Cast int64 to int64", "Cast", "", 17, {int_data("x", i64, {4, 4}, big)}, cast_attrs(i64), 1, "cuda_cast", kExact});
  run_case({"CastLike int64 like float16", "CastLike", "", 17, {int_data("x", i64, {2, 8}, big), weight("like", DataType::kFloat16, {1})}, {}, 1,
            "cuda_cast_like", kExact});
}

// --- comparisons, logic, Where, Expand, integer arithmetic -------------------------------------

// Float inputs on a grid of halves, so that equal pairs occur.
void coarse_floats(NamedTensors& feeds, int) {
  for (auto& [name, t] : feeds) {
    if (t.dtype() != DataType::kFloat32 && t.dtype() != DataType::kFloat16 && t.dtype() != DataType::kBFloat16) continue;
    for (int64_t i = 0; i < t.numel(); ++i) set_value(t, i, std::round(value_at(t, i) * 2) / 2);
  }
}

TEST(CudaBackend, ComparisonsBroadcastAndGiveTheReferenceBits) {
  KILN_REQUIRE_CUDA();
  const DataType operand_types[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32, DataType::kInt64};
  const char* ops[] = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"};
  for (DataType dt : operand_types) {
    for (const char* op : ops) {
      const std::string o = op, t = short_name(dt);
      run_case({o + " " + t, op, "", 17, {data("a", dt, {3, 4, 5}, -3, 3), data("b", dt, {4, 1}, -3, 3)}, {}, 1, "cuda_" + o, kExact}, coarse_floats);
      run_case({o + " scalar " + t, op, "", 17, {data("a", dt, {2, 33}, -3, 3), weight("b", dt, {}, -1, 1)}, {}, 1, "cuda_" + o, kExact},
               coarse_floats);
    }
  }
  // NaN compares false (and not equal to itself).
  run_case({"Equal NaN", "Equal", "", 17, {data("a", DataType::kFloat32, {4, 6}), data("b", DataType::kFloat32, {4, 6})}, {}, 1, "cuda_Equal", kExact},
           [](NamedTensors& feeds, int) {
             for (int64_t i = 0; i < 24; i += 3) set_value(feeds.at("a"), i, std::nan(""));
             for (int64_t i = 0; i < 24; i += 2) set_value(feeds.at("b"), i, value_at(feeds.at("a"), i));
           });
  run_case({"Equal bool", "Equal", "", 17, {data("a", DataType::kBool, {4, 6}, 0, 2), data("b", DataType::kBool, {6}, 0, 2)}, {}, 1, "cuda_Equal",
            kExact});
  // int64 values past 2^53 compare exactly (no trip through double).
  run_case({"Less int64 big", "Less", "", 17,
            {int_data("a", DataType::kInt64, {2, 2}, {(int64_t{1} << 53) + 1, INT64_MAX, INT64_MIN, 5}),
             int_data("b", DataType::kInt64, {2, 2}, {(int64_t{1} << 53), INT64_MAX - 1, INT64_MIN + 1, 5})},
            {}, 1, "cuda_Less", kExact});
}

TEST(CudaBackend, LogicAndWhereBroadcast) {
  KILN_REQUIRE_CUDA();
  const DataType b8 = DataType::kBool;
  run_case({"Not", "Not", "", 17, {data("x", b8, {3, 5, 7}, 0, 2)}, {}, 1, "cuda_Not", kExact});
  for (const char* op : {"And", "Or", "Xor"}) {
    const std::string o = op;
    run_case({o, op, "", 17, {data("a", b8, {2, 3, 4}, 0, 2), data("b", b8, {3, 1}, 0, 2)}, {}, 1, "cuda_" + o, kExact});
  }
  run_case({"Where f32 broadcast", "Where", "", 17, {data("c", b8, {2, 1, 5}, 0, 2), data("x", DataType::kFloat32, {3, 1}), weight("y", DataType::kFloat32, {})},
            {}, 1, "cuda_where", kExact});
  run_case({"Where f16", "Where", "", 17, {data("c", b8, {1, 8}, 0, 2), data("x", DataType::kFloat16, {3, 8}), data("y", DataType::kFloat16, {3, 1})}, {},
            1, "cuda_where", kExact});
  run_case({"Where bf16 same shapes", "Where", "", 17,
            {data("c", b8, {4, 33}, 0, 2), data("x", DataType::kBFloat16, {4, 33}), data("y", DataType::kBFloat16, {4, 33})}, {}, 1, "cuda_where", kExact});
  run_case({"Where int64", "Where", "", 17,
            {data("c", b8, {4, 1}, 0, 2), data("x", DataType::kInt64, {4, 6}, -1e12, 1e12), data("y", DataType::kInt64, {6}, -50, 50)}, {}, 1,
            "cuda_where", kExact});
  run_case({"Where uint8", "Where", "", 17, {data("c", b8, {5, 3}, 0, 2), data("x", DataType::kUInt8, {3}, 0, 256), data("y", DataType::kUInt8, {5, 1}, 0, 256)},
            {}, 1, "cuda_where", kExact});
  run_case({"Where bool values", "Where", "", 17, {data("c", b8, {5, 3}, 0, 2), data("x", b8, {5, 3}, 0, 2), data("y", b8, {1}, 0, 2)}, {}, 1,
            "cuda_where", kExact});
}

TEST(CudaBackend, ExpandAndIntegerArithmetic) {
  KILN_REQUIRE_CUDA();
  const DataType i64 = DataType::kInt64, i32 = DataType::kInt32;
  // BERT's token type ids: [1, seq] to [batch, seq].
  run_case({"Expand int64 rows", "Expand", "", 13, {data("x", i64, {1, 7}, -100, 100), ints("shape", {3, 7})}, {}, 1, "cuda_expand", kExact});
  run_case({"Expand f32 to rank 3", "Expand", "", 13, {data("x", DataType::kFloat32, {3, 1}), ints("shape", {2, 3, 4})}, {}, 1, "cuda_expand", kExact});
  // Bidirectional: the shape may be shorter or hold 1 where x is larger.
  run_case({"Expand f16 bidirectional", "Expand", "", 13, {data("x", DataType::kFloat16, {2, 3, 4}), ints("shape", {3, 1})}, {}, 1, "cuda_expand",
            kExact});
  run_case({"Expand uint8 middle", "Expand", "", 13, {data("x", DataType::kUInt8, {2, 1, 5}, 0, 256), ints("shape", {2, 6, 5})}, {}, 1, "cuda_expand",
            kExact});
  run_case({"Expand bool", "Expand", "", 13, {data("x", DataType::kBool, {2, 1}, 0, 2), ints("shape", {2, 6})}, {}, 1, "cuda_expand", kExact});
  run_case({"Expand int32 vector to rows", "Expand", "", 13, {data("x", i32, {5}, -9, 9), ints("shape", {4, 1})}, {}, 1, "cuda_expand", kExact});
  run_case({"Expand bf16 scalar", "Expand", "", 13, {data("x", DataType::kBFloat16, {}), ints("shape", {3, 2, 2})}, {}, 1, "cuda_expand", kExact});

  run_case({"Add int64 broadcast", "Add", "", 17, {data("a", i64, {3, 4}, -1e15, 1e15), data("b", i64, {4}, -1e15, 1e15)}, {}, 1, "cuda_Add", kExact});
  run_case({"Sub int32 broadcast", "Sub", "", 17, {data("a", i32, {2, 3, 4}, -1e9, 1e9), data("b", i32, {3, 1}, -1e9, 1e9)}, {}, 1, "cuda_Sub", kExact});
  // Overflow wraps, as the reference's.
  run_case({"Mul int64 wraps", "Mul", "", 17,
            {int_data("a", i64, {2, 4}, {INT64_MAX, INT64_MIN, (int64_t{1} << 40) + 7, -3, 5, -(int64_t{1} << 33), 123456789123, 1}),
             weight("b", i64, {4}, -9, 9)},
            {}, 1, "cuda_Mul", kExact});
  run_case({"Add int32 wraps", "Add", "", 17,
            {int_data("a", i32, {2, 3}, {2147483647, -2147483648LL, 2000000000, -5, 0, 1}), int_data("b", i32, {1, 3}, {1, -1, 2000000000})}, {}, 1,
            "cuda_Add", kExact});
}

// BERT's embeddings and attention mask as the exporter writes them (token type ids expanded to
// [batch, seq], the int64 mask unsqueezed and cast to float), with padding tokens zeroed through
// Equal and Where.
std::unique_ptr<Graph> bert_style_graph() {
  auto g = test::new_graph(17);
  Value* ids = test::input(*g, "ids", DataType::kInt64, sym_shape({2, 7}));
  Value* mask = test::input(*g, "mask", DataType::kInt64, sym_shape({2, 7}));
  auto v = [&](const char* name) { return g->add_value(name); };
  Value *tid = v("tid"), *we = v("we"), *te = v("te"), *e = v("e"), *m4 = v("m4"), *mf = v("mf"), *inv = v("inv"), *ext = v("ext");
  Value *pad = v("pad"), *emb = v("emb");
  test::op(*g, "Expand", {g->add_constant("type_ids", test::i64({1, 7}, {0, 1, 1, 0, 1, 0, 1})), g->add_constant("batch_seq", test::i64({2}, {2, 7}))},
           {tid}, "expand");
  test::op(*g, "Gather", {g->add_constant("word", random_tensor(DataType::kFloat32, {30, 16}, 3, -1, 1)), ids}, {we}, "gather_word");
  test::op(*g, "Gather", {g->add_constant("type", random_tensor(DataType::kFloat32, {2, 16}, 4, -1, 1)), tid}, {te}, "gather_type");
  test::op(*g, "Add", {we, te}, {e}, "add");
  // Padding tokens (id 0) zeroed: Equal -> Unsqueeze -> Where.
  Value* is_pad = v("is_pad");
  Value* is_pad3 = v("is_pad3");
  test::op(*g, "Equal", {ids, g->add_constant("zero", test::i64({}, {0}))}, {is_pad}, "equal");
  test::op(*g, "Unsqueeze", {is_pad, g->add_constant("axis2", test::i64({1}, {2}))}, {is_pad3}, "unsqueeze_pad");
  test::op(*g, "Where", {is_pad3, g->add_constant("fzero", test::f32({}, {0.f})), e}, {pad}, "where");
  test::op(*g, "Identity", {pad}, {emb}, "identity");
  test::op(*g, "Unsqueeze", {mask, g->add_constant("axes", test::i64({2}, {1, 2}))}, {m4}, "unsqueeze_mask");
  test::op(*g, "Cast", {m4}, {mf}, "cast")->attrs.set_int("to", static_cast<int64_t>(DataType::kFloat32));
  test::op(*g, "Sub", {g->add_constant("one", test::f32({}, {1.f})), mf}, {inv}, "sub");
  test::op(*g, "Mul", {inv, g->add_constant("big", test::f32({}, {-10000.f}))}, {ext}, "mul");
  g->add_output(emb);
  g->add_output(ext);
  return g;
}

// Every layer of it on the device, the reference's bits.
TEST(CudaBackend, BertStyleEmbeddingsAndMaskRunOnTheDevice) {
  KILN_REQUIRE_CUDA();
  auto cuda = build_for("cuda", bert_style_graph());
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", bert_style_graph());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (const LayerInfo& l : cuda->info().layers) EXPECT_EQ(l.backend, "cuda") << l.name << " (" << l.op << ")";
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  for (int run = 0; run < 2; ++run) {
    // Padding ids (0) in the first run for sure, wherever they fall in the second.
    const Tensor ids = run == 0 ? int_tensor(DataType::kInt64, {2, 7}, {5, 0, 12, 29, 0, 3, 7, 1, 0, 0, 18, 22, 9, 0})
                                : random_tensor(DataType::kInt64, {2, 7}, 10 + run, 0, 30);
    const NamedTensors in{{"ids", ids}, {"mask", random_tensor(DataType::kInt64, {2, 7}, 20 + run, 0, 2)}};
    NamedTensors want;
    ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
    NamedTensors got;
    for (const auto& [name, t] : want) got[name] = poisoned(t.dtype(), t.shape());
    const Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (const auto& [name, t] : want) expect_close(got.at(name), t, kExact, fmt::format("bert-style run {} output {}", run, name));
  }
}

// --- attention ---------------------------------------------------------------------------------

TEST(CudaBackend, AttentionWithMasksAndCausal) {
  KILN_REQUIRE_CUDA();
  const Tolerance f32{1e-4, 1e-5}, f16{4e-3, 4e-3}, bf16{3e-2, 3e-2};
  // float32 (the fp32-arithmetic kernel), no mask, Sq != Sk, Dh != Dv.
  run_case({"Attention f32", "Attention", "kiln", 1,
            {data("q", DataType::kFloat32, {2, 7, 4 * 16}, -1, 1), data("k", DataType::kFloat32, {2, 9, 4 * 16}, -1, 1),
             data("v", DataType::kFloat32, {2, 9, 4 * 8}, -1, 1)},
            [](Attributes& a) { a.set_int("num_heads", 4); }, 1, "cuda_attention", f32});
  // float16, tensor-core path (head dim 64), key padding mask [B, 1, 1, Sk] and causal.
  {
    OpCase c{"Attention f16 padding mask causal", "Attention", "kiln", 1,
             {data("q", DataType::kFloat16, {2, 128, 2 * 64}, -1, 1), data("k", DataType::kFloat16, {2, 128, 2 * 64}, -1, 1),
              data("v", DataType::kFloat16, {2, 128, 2 * 64}, -1, 1), weight("mask", DataType::kFloat16, {2, 1, 1, 128}, -1, 1)},
             [](Attributes& a) {
               a.set_int("num_heads", 2);
               a.set_int("causal", 1);
             },
             1, "cuda_attention", f16};
    run_case(c);
  }
  // bfloat16, a 2-D [Sq, Sk] mask and an explicit scale; odd head dim (the fp32-arithmetic kernel).
  run_case({"Attention bf16 2-D mask", "Attention", "kiln", 1,
            {data("q", DataType::kBFloat16, {1, 5, 3 * 12}, -1, 1), data("k", DataType::kBFloat16, {1, 6, 3 * 12}, -1, 1),
             data("v", DataType::kBFloat16, {1, 6, 3 * 12}, -1, 1), data("mask", DataType::kBFloat16, {5, 6}, -4, 0)},
            [](Attributes& a) {
              a.set_int("num_heads", 3);
              a.set_float("scale", 0.2f);
            },
            1, "cuda_attention", bf16});
}

// --- a graph across both memories --------------------------------------------------------------

// x -> LayerNorm -> Flatten (f) ; LayerNorm -> Sin (no cuda kernel: the reference, on the host) -> z;
// Add(Sin, LayerNorm) -> Reshape -> Softmax -> y. LayerNorm's output is copied to the host for Sin,
// Sin's back to the device for Add; Flatten's input is read again later, so its copy is a real one.
std::unique_ptr<Graph> mixed_graph() {
  auto g = test::new_graph(17);
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({4, 6, 32}));
  Value* ln = g->add_value("ln");
  Value* f = g->add_value("f");
  Value* z = g->add_value("z");
  Value* a = g->add_value("a");
  Value* r = g->add_value("r");
  Value* y = g->add_value("y");
  test::op(*g, "LayerNormalization",
           {x, g->add_constant("scale", random_tensor(DataType::kFloat32, {32}, 1, 0.5, 1.5)),
            g->add_constant("bias", random_tensor(DataType::kFloat32, {32}, 2, -1, 1))},
           {ln}, "ln");
  test::op(*g, "Flatten", {ln}, {f}, "flatten")->attrs.set_int("axis", 2);
  test::op(*g, "Sin", {ln}, {z}, "sin");
  test::op(*g, "Add", {z, ln}, {a}, "add");
  test::op(*g, "Reshape", {a, g->add_constant("shape", test::i64({2}, {4, 192}))}, {r}, "reshape");
  test::op(*g, "Softmax", {r}, {y}, "softmax");
  g->add_output(y);
  g->add_output(z);
  g->add_output(f);
  return g;
}

void expect_mixed_outputs_match(Engine& cuda, Engine& ref) {
  auto ctx = cuda.create_execution_context();
  auto ref_ctx = ref.create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  for (int run = 0; run < 3; ++run) {
    const NamedTensors in{{"x", random_tensor(DataType::kFloat32, {4, 6, 32}, 100 + run, -3, 3)}};
    NamedTensors want;
    ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
    NamedTensors got;
    for (const auto& [name, t] : want) got[name] = poisoned(t.dtype(), t.shape());
    const Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(got.size(), 3u);
    for (const auto& [name, t] : want) expect_close(got.at(name), t, {1e-4, 1e-5}, fmt::format("mixed run {} output {}", run, name));
  }
}

TEST(CudaBackend, MixedGraphCopiesBothWaysAroundAFallback) {
  KILN_REQUIRE_CUDA();
  auto cuda = build_for("cuda", mixed_graph());
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", mixed_graph());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  const EngineInfo info = cuda->info();
  std::map<std::string, std::string> backend_of;
  int to_device = 0, to_host = 0;
  for (const LayerInfo& l : info.layers) {
    backend_of[l.name] = l.backend;
    if (l.op == "kiln.CopyToDevice") {
      ++to_device;
      EXPECT_EQ(l.backend, "cuda") << l.name;
    }
    if (l.op == "kiln.CopyToHost") {
      ++to_host;
      EXPECT_EQ(l.backend, "cuda") << l.name;
    }
  }
  // To the device: x, and Sin's output for Add. To the host: LayerNorm's output for Sin, and the
  // graph outputs y and f (z is computed on the host).
  EXPECT_EQ(to_device, 2);
  EXPECT_EQ(to_host, 3);
  for (const char* name : {"ln", "flatten", "add", "reshape", "softmax"}) EXPECT_EQ(backend_of[name], "cuda") << name;
  EXPECT_EQ(backend_of["sin"], "reference");
  expect_mixed_outputs_match(*cuda, *ref);

  // The same engine saved and loaded: placement, host inputs and outputs come back with it.
  const std::string path = testing::TempDir() + "/kiln_cuda_mixed.kiln";
  ASSERT_TRUE(cuda->save(path).ok());
  auto loaded = Engine::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  expect_mixed_outputs_match(*loaded, *ref);
  std::remove(path.c_str());
}

// --- lowering decisions (no GPU needed) --------------------------------------------------------

// The kernel the cuda table picks for the case's node after inference: "cuda/<name>" or
// "reference/<name>" for a fallback.
std::string lowered(const OpCase& c) {
  auto g = graph_of(c);
  const Status s = infer_and_annotate(*g);
  if (!s.ok()) return "inference failed: " + s.message();
  const Node* n = nullptr;
  for (const auto& np : g->nodes()) {
    if (np->name == "op") n = np.get();
  }
  const KernelEntry* e = find_backend("cuda")->kernels().find(*n);
  if (!e) return "none";
  return (e->backend.empty() ? "cuda" : e->backend) + "/" + e->name;
}

TEST(CudaBackendLowering, TakesWhatItsKernelsDo) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  const DataType f32 = DataType::kFloat32;
  EXPECT_EQ(lowered({"", "Add", "", 17, {data("a", DataType::kFloat16, {2, 3}), weight("b", DataType::kFloat16, {3})}}), "cuda/cuda_Add");
  EXPECT_EQ(lowered({"", "Cast", "", 17, {data("x", f32, {4})}, [](Attributes& a) { a.set_int("to", static_cast<int64_t>(DataType::kBFloat16)); }}),
            "cuda/cuda_cast");
  EXPECT_EQ(lowered({"", "ReduceMean", "", 18, {data("x", f32, {2, 3, 4}), ints("axes", {1, 2})}}), "cuda/cuda_ReduceMean");
  EXPECT_EQ(lowered({"", "Softmax", "", 11, {data("x", f32, {2, 3, 4})}, [](Attributes& a) { a.set_int("axis", 1); }}), "cuda/cuda_softmax");
  EXPECT_EQ(lowered({"", "Gather", "", 13, {data("t", DataType::kInt64, {5, 2}, 0, 9), ints("i", {4, -5})}}), "cuda/cuda_gather");
  EXPECT_EQ(lowered({"", "Reshape", "", 17, {data("x", DataType::kUInt8, {6}, 0, 9), ints("s", {2, 3})}}), "cuda/cuda_reshape");
  EXPECT_EQ(lowered({"", "LayerNormalization", "", 17, {data("x", f32, {2, 8}), weight("s", f32, {1, 8})}}), "cuda/cuda_layer_normalization");
  EXPECT_EQ(lowered({"", "FusedMatMul", "kiln", 1, {data("a", f32, {2, 8}), weight("b", f32, {8, 4}), weight("bias", f32, {4})},
                     [](Attributes& a) { a.set_string("activation", "Gelu"); }}),
            "cuda/cublaslt_fused_matmul")
      << "erf GELU has no exact cuBLASLt epilogue: the unary kernel runs after the product";
}

// What a device kernel reads and writes in host memory: the planner and the copy inserter go by it.
TEST(CudaBackendLowering, HostInputsAndOutputs) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  std::map<std::string, const KernelEntry*> first;
  for (const KernelEntry& e : find_backend("cuda")->kernels().entries()) {
    if (e.backend.empty() && !first.count(e.op_type)) first[e.op_type] = &e;
  }
  using V = std::vector<size_t>;
  ASSERT_TRUE(first.count("CopyToHost") && first.count("CopyToDevice") && first.count("Slice") && first.count("Add") && first.count("Expand") &&
              first.count("Where"));
  EXPECT_EQ(first["CopyToHost"]->host_outputs, V{0});
  EXPECT_EQ(first["CopyToDevice"]->host_outputs, V{});
  EXPECT_EQ(first["Slice"]->host_inputs, (V{1, 2, 3, 4}));
  EXPECT_EQ(first["Split"]->host_inputs, V{1});
  EXPECT_EQ(first["Reshape"]->host_inputs, V{1});
  EXPECT_EQ(first["ReduceSum"]->host_inputs, V{1});
  EXPECT_EQ(first["Gather"]->host_inputs, V{}) << "indices stay on the device";
  EXPECT_EQ(first["Expand"]->host_inputs, V{1});
  EXPECT_EQ(first["Where"]->host_inputs, V{});
  EXPECT_EQ(first["Add"]->host_inputs, V{});
}

TEST(CudaBackendLowering, LeavesTheRestToTheReference) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  const DataType f32 = DataType::kFloat32;
  auto refused = [](const OpCase& c) {
    const std::string got = lowered(c);
    EXPECT_EQ(got.rfind("reference/", 0), 0u) << c.name << " lowered to " << got;
  };
  refused({"integer Add of shapes", "Add", "", 17, {data("a", DataType::kInt64, {3}), data("b", DataType::kInt64, {3})}});
  refused({"float64 Mul", "Mul", "", 17, {data("a", DataType::kFloat64, {2, 3}), data("b", DataType::kFloat64, {2, 3})}});
  refused({"rank 9 Add", "Add", "", 17, {data("a", f32, {1, 1, 1, 1, 1, 1, 1, 1, 2}), data("b", f32, {2})}});
  refused({"Max of three", "Max", "", 17, {data("a", f32, {2}), data("b", f32, {2}), data("c", f32, {2})}});
  refused({"Pow int exponent", "Pow", "", 17, {data("a", f32, {2}), data("b", DataType::kInt32, {2}, 0, 3)}});
  refused({"Add opset 6", "Add", "", 6, {data("a", f32, {2, 3}), data("b", f32, {2, 3})}});
  refused({"Cast to an int32 vector", "Cast", "", 17, {data("x", f32, {4})}, [](Attributes& a) { a.set_int("to", static_cast<int64_t>(DataType::kInt32)); }});
  refused({"LayerNorm scalar scale", "LayerNormalization", "", 17, {data("x", f32, {2, 8}), weight("s", f32, {1})}});
  refused({"LayerNorm f16 scale of f32 x", "LayerNormalization", "", 17, {data("x", f32, {2, 8}), weight("s", DataType::kFloat16, {8})}});
  refused({"RMSNorm row-broadcast scale", "RMSNormalization", "kiln", 1, {data("x", f32, {2, 4, 8}), weight("s", f32, {4, 1})},
           [](Attributes& a) { a.set_int("axis", 1); }});
  refused({"Softmax opset 13 middle axis", "Softmax", "", 13, {data("x", f32, {2, 3, 4})}, [](Attributes& a) { a.set_int("axis", 1); }});
  refused({"ReduceSum split axes", "ReduceSum", "", 13, {data("x", f32, {3, 4, 5}), ints("axes", {0, 2})}});
  refused({"ReduceSum axes from a graph input", "ReduceSum", "", 13, {data("x", f32, {3, 4}), int_data("axes", DataType::kInt64, {1}, {1})}});
  refused({"ReduceSum noop with no axes", "ReduceSum", "", 13, {data("x", f32, {3, 4})}, [](Attributes& a) { a.set_int("noop_with_empty_axes", 1); }});
  refused({"ReduceL2", "ReduceL2", "", 17, {data("x", f32, {3, 4})}});
  refused({"Gather constant index out of range", "Gather", "", 13, {data("t", f32, {5, 2}), ints("i", {5})}});
  refused({"Gather of a shape", "Gather", "", 13, {data("s", DataType::kInt64, {4}, 1, 9), ints("i", {0})}});
  refused({"Concat of shapes", "Concat", "", 13, {data("a", DataType::kInt64, {2}, 1, 9), data("b", DataType::kInt64, {1}, 1, 9)},
           [](Attributes& a) { a.set_int("axis", 0); }});
  refused({"Reshape to a graph input's shape", "Reshape", "", 17, {data("x", f32, {6}), int_data("s", DataType::kInt64, {2}, {2, 3})}});
  refused({"Slice starts from a graph input", "Slice", "", 13, {data("x", f32, {6}), int_data("b", DataType::kInt64, {1}, {1}), ints("e", {4})}});
  refused({"Unsqueeze of a shape element", "Unsqueeze", "", 13, {data("s", DataType::kInt64, {}, 1, 9), ints("axes", {0})}});
  refused({"Attention float64", "Attention", "kiln", 1,
           {data("q", DataType::kFloat64, {1, 2, 4}), data("k", DataType::kFloat64, {1, 2, 4}), data("v", DataType::kFloat64, {1, 2, 4})},
           [](Attributes& a) { a.set_int("num_heads", 2); }});
  refused({"FusedPointwise with 9 operands", "FusedPointwise", "kiln", 1,
           {data("x", f32, {2}), data("e1", f32, {2}), data("e2", f32, {2}), data("e3", f32, {2}), data("e4", f32, {2}), data("e5", f32, {2}),
            data("e6", f32, {2}), data("e7", f32, {2}), data("e8", f32, {2}), data("e9", f32, {2})},
           [](Attributes& a) { set_steps(a, {"Add"}, {9}, {0}); }});
  refused({"Dropout opset 7 mask read", "Dropout", "", 7, {data("x", f32, {2, 3})}, {}, 2});
}


TEST(CudaBackendLowering, PoolingCastLogicExpandAndIntArithmetic) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  const DataType f32 = DataType::kFloat32, f16 = DataType::kFloat16, i64 = DataType::kInt64, b8 = DataType::kBool;
  EXPECT_EQ(lowered({"", "MaxPool", "", 12, {data("x", f32, {1, 2, 8, 8})}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1})}), "cuda/cuda_max_pool");
  EXPECT_EQ(lowered({"", "MaxPool", "kiln", 1, {data("x", f16, {1, 8, 8, 16})}, pool_attrs({3, 3}, {}, {}, [](Attributes& a) { a.set_int("channels_last", 1); })}),
            "cuda/cuda_max_pool");
  EXPECT_EQ(lowered({"", "MaxPool", "", 12, {data("x", f32, {1, 2, 8})}, pool_attrs({2}, {}, {}, [](Attributes& a) { a.set_string("auto_pad", "SAME_UPPER"); })}),
            "cuda/cuda_max_pool");
  EXPECT_EQ(lowered({"", "AveragePool", "", 17, {data("x", DataType::kBFloat16, {1, 2, 4, 5, 6})}, pool_attrs({2, 2, 2})}), "cuda/cuda_average_pool");
  EXPECT_EQ(lowered({"", "GlobalAveragePool", "", 17, {data("x", f16, {2, 8, 7, 7})}}), "cuda/cuda_global_average_pool");
  EXPECT_EQ(lowered({"", "GlobalMaxPool", "", 17, {data("x", f32, {2, 8, 7, 7})}}), "cuda/cuda_global_max_pool");
  EXPECT_EQ(lowered({"", "Cast", "", 17, {data("x", i64, {2, 8}, 0, 2)}, cast_attrs(f32)}), "cuda/cuda_cast");
  EXPECT_EQ(lowered({"", "Cast", "", 17, {data("x", f32, {2, 3})}, cast_attrs(DataType::kInt32)}), "cuda/cuda_cast");
  EXPECT_EQ(lowered({"", "Cast", "", 17, {data("x", b8, {2, 3}, 0, 2)}, cast_attrs(f16)}), "cuda/cuda_cast");
  EXPECT_EQ(lowered({"", "CastLike", "", 17, {data("x", i64, {2, 3}, 0, 2), weight("like", f32, {1})}}), "cuda/cuda_cast_like");
  EXPECT_EQ(lowered({"", "Equal", "", 17, {data("a", i64, {2, 3}, 0, 9), ints("b", {3})}}), "cuda/cuda_Equal");
  EXPECT_EQ(lowered({"", "Less", "", 17, {data("a", f16, {2, 3}), data("b", f16, {3})}}), "cuda/cuda_Less");
  EXPECT_EQ(lowered({"", "GreaterOrEqual", "", 17, {data("a", f32, {4}), data("b", f32, {4})}}), "cuda/cuda_GreaterOrEqual");
  EXPECT_EQ(lowered({"", "Not", "", 17, {data("x", b8, {4}, 0, 2)}}), "cuda/cuda_Not");
  EXPECT_EQ(lowered({"", "Xor", "", 17, {data("a", b8, {2, 4}, 0, 2), data("b", b8, {4}, 0, 2)}}), "cuda/cuda_Xor");
  EXPECT_EQ(lowered({"", "Where", "", 17, {data("c", b8, {2, 4}, 0, 2), data("x", f32, {4}), data("y", f32, {})}}), "cuda/cuda_where");
  EXPECT_EQ(lowered({"", "Where", "", 17, {data("c", b8, {2, 4}, 0, 2), data("x", i64, {2, 4}, 0, 9), data("y", i64, {2, 4}, 0, 9)}}), "cuda/cuda_where");
  EXPECT_EQ(lowered({"", "Expand", "", 13, {data("x", i64, {1, 7}, 0, 2), ints("shape", {3, 7})}}), "cuda/cuda_expand");
  EXPECT_EQ(lowered({"", "Add", "", 17, {data("a", i64, {2, 3}, 0, 9), data("b", i64, {2, 3}, 0, 9)}}), "cuda/cuda_Add");
  EXPECT_EQ(lowered({"", "Mul", "", 17, {data("a", DataType::kInt32, {2, 3}, 0, 9), ints("b", {3}, DataType::kInt32)}}), "cuda/cuda_Mul");
}

TEST(CudaBackendLowering, LeavesHostWorkOfPoolingCastLogicToTheReference) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  const DataType f32 = DataType::kFloat32, i64 = DataType::kInt64, b8 = DataType::kBool;
  auto refused = [](const OpCase& c) {
    const std::string got = lowered(c);
    EXPECT_EQ(got.rfind("reference/", 0), 0u) << c.name << " lowered to " << got;
  };
  // MaxPool's Indices are the reference's to compute.
  refused({"MaxPool with Indices", "MaxPool", "", 12, {data("x", f32, {1, 2, 8, 8})}, pool_attrs({2, 2}), 2});
  refused({"MaxPool int8", "MaxPool", "", 12, {data("x", DataType::kInt8, {1, 2, 8, 8}, -9, 9)}, pool_attrs({2, 2})});
  refused({"MaxPool float64", "MaxPool", "", 12, {data("x", DataType::kFloat64, {1, 2, 8, 8})}, pool_attrs({2, 2})});
  refused({"MaxPool 4 spatial axes", "MaxPool", "", 12, {data("x", f32, {1, 1, 3, 3, 3, 3})}, pool_attrs({2, 2, 2, 2})});
  refused({"AveragePool float64", "AveragePool", "", 17, {data("x", DataType::kFloat64, {1, 2, 8, 8})}, pool_attrs({2, 2})});
  refused({"LpPool", "LpPool", "", 18, {data("x", f32, {1, 2, 8, 8})}, pool_attrs({2, 2})});
  refused({"GlobalLpPool", "GlobalLpPool", "", 17, {data("x", f32, {1, 2, 8, 8})}});
  refused({"Cast to float64", "Cast", "", 17, {data("x", f32, {2, 3})}, cast_attrs(DataType::kFloat64)});
  refused({"Cast to uint16", "Cast", "", 17, {data("x", f32, {2, 3})}, cast_attrs(DataType::kUInt16)});
  // Shape arithmetic (Shape -> Cast -> ... -> Reshape): the host computes it ahead of the run.
  refused({"Cast of a shape", "Cast", "", 17, {data("s", i64, {4}, 1, 9)}, cast_attrs(f32)});
  refused({"Cast to an int32 vector", "Cast", "", 17, {data("x", f32, {4})}, cast_attrs(DataType::kInt32)});
  refused({"Equal of shapes", "Equal", "", 17, {data("s", i64, {4}, 0, 9), ints("minus_one", {-1, -1, -1, -1})}});
  refused({"Where of shapes", "Where", "", 17, {data("c", b8, {3}, 0, 2), data("x", i64, {3}, 1, 9), data("y", i64, {3}, 1, 9)}});
  refused({"Mul of shapes", "Mul", "", 17, {data("s", i64, {2}, 1, 9), ints("k", {2, 2})}});
  refused({"Expand to an int vector", "Expand", "", 13, {data("x", i64, {1}, 1, 9), ints("shape", {4})}});
  refused({"Expand to a graph input's shape", "Expand", "", 13, {data("x", f32, {1, 3}), int_data("s", i64, {2}, {2, 3})}});
  refused({"integer Div", "Div", "", 17, {data("a", i64, {2, 3}, 1, 9), data("b", i64, {2, 3}, 1, 9)}});
  refused({"integer Max", "Max", "", 17, {data("a", DataType::kInt32, {2, 3}, 1, 9), data("b", DataType::kInt32, {2, 3}, 1, 9)}});
  refused({"Mod", "Mod", "", 17, {data("a", i64, {2, 3}, 1, 9), data("b", i64, {2, 3}, 1, 9)}});
  refused({"Equal float64", "Equal", "", 17, {data("a", DataType::kFloat64, {2, 3}), data("b", DataType::kFloat64, {2, 3})}});
}

// The nodes of a graph that the cuda table leaves to the host after the passes the cuda backend's
// build runs (opt level 3, channels-last convolutions): "op_type name" each.
std::vector<std::string> host_layers(std::unique_ptr<Graph> g) {
  std::vector<std::string> host;
  Status s = infer_and_annotate(*g);
  if (s.ok()) {
    PassOptions po;
    po.opt_level = 3;
    po.channels_last_convs = find_backend("cuda")->prefers_channels_last();
    s = run_passes(*g, po);
  }
  if (s.ok()) s = infer_and_annotate(*g);
  if (!s.ok()) return {"passes failed: " + s.message()};
  for (const auto& np : g->nodes()) {
    const KernelEntry* e = find_backend("cuda")->kernels().find(*np);
    if (!e || !e->backend.empty()) host.push_back(np->op_type + " " + np->name);
  }
  return host;
}

// A ResNet stem and bottleneck tail as exporters write them: Conv, BatchNormalization, Relu,
// MaxPool, a residual Add, GlobalAveragePool, Flatten, Gemm.
std::unique_ptr<Graph> resnet_style_graph() {
  auto g = test::new_graph(17);
  Value* x = test::input(*g, "x", DataType::kFloat32, sym_shape({1, 3, 32, 32}));
  auto v = [&](const std::string& name) { return g->add_value(name); };
  auto w = [&](const std::string& name, Dims dims, uint64_t seed) { return g->add_constant(name, random_tensor(DataType::kFloat32, dims, seed, -0.5, 0.5)); };
  auto conv = [&](Value* in, const std::string& name, int64_t cin, int64_t cout, int64_t k, int64_t stride, uint64_t seed) {
    Value* y = v(name);
    Node* n = test::op(*g, "Conv", {in, w(name + ".w", {cout, cin, k, k}, seed), w(name + ".b", {cout}, seed + 1)}, {y}, name);
    n->attrs.set_ints("kernel_shape", {k, k});
    n->attrs.set_ints("strides", {stride, stride});
    n->attrs.set_ints("pads", {k / 2, k / 2, k / 2, k / 2});
    return y;
  };
  auto bn = [&](Value* in, const std::string& name, int64_t c, uint64_t seed) {
    Value* y = v(name);
    test::op(*g, "BatchNormalization", {in, w(name + ".s", {c}, seed), w(name + ".b", {c}, seed + 1), w(name + ".m", {c}, seed + 2),
                                         g->add_constant(name + ".v", random_tensor(DataType::kFloat32, {c}, seed + 3, 0.5, 1.5))},
             {y}, name);
    return y;
  };
  auto relu = [&](Value* in, const std::string& name) {
    Value* y = v(name);
    test::op(*g, "Relu", {in}, {y}, name);
    return y;
  };
  Value* stem = relu(bn(conv(x, "conv1", 3, 16, 7, 2, 1), "bn1", 16, 10), "relu1");
  Value* pool = v("pool");
  test::op(*g, "MaxPool", {stem}, {pool}, "maxpool")->attrs = [] {
    Attributes a;
    pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1})(a);
    return a;
  }();
  Value* a = relu(bn(conv(pool, "conv2", 16, 16, 3, 1, 20), "bn2", 16, 30), "relu2");
  Value* b = bn(conv(a, "conv3", 16, 16, 3, 1, 40), "bn3", 16, 50);
  Value* sum = v("sum");
  test::op(*g, "Add", {b, pool}, {sum}, "residual");
  Value* out = relu(sum, "relu3");
  Value *gap = v("gap"), *flat = v("flat"), *logits = v("logits");
  test::op(*g, "GlobalAveragePool", {out}, {gap}, "gap");
  test::op(*g, "Flatten", {gap}, {flat}, "flatten");
  Node* fc = test::op(*g, "Gemm", {flat, w("fc.w", {10, 16}, 60), w("fc.b", {10}, 61)}, {logits}, "fc");
  fc->attrs.set_int("transB", 1);
  g->add_output(logits);
  return g;
}

TEST(CudaBackendLowering, ResNetStyleGraphHasNoHostLayers) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  EXPECT_EQ(host_layers(resnet_style_graph()), std::vector<std::string>{});
}

// The same graph built for cuda at the default optimization level (BatchNormalization folded,
// channels-last FusedConv on cuDNN, kiln.MaxPool, ReduceMean for the global pool): every layer on
// the device, and the outputs within fp32 rounding of the reference's (cuDNN sums in another
// order; no TF32).
TEST(CudaBackend, ResNetStyleGraphRunsOnTheDevice) {
  KILN_REQUIRE_CUDA();
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 3;
  auto cuda = test::build(resnet_style_graph(), config);
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", resnet_style_graph());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (const LayerInfo& l : cuda->info().layers) EXPECT_EQ(l.backend, "cuda") << l.name << " (" << l.op << ")";
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  for (int run = 0; run < 2; ++run) {
    const NamedTensors in{{"x", random_tensor(DataType::kFloat32, {1, 3, 32, 32}, 70 + run, -2, 2)}};
    NamedTensors want;
    ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
    NamedTensors got;
    for (const auto& [name, t] : want) got[name] = poisoned(t.dtype(), t.shape());
    const Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (const auto& [name, t] : want) expect_close(got.at(name), t, {1e-3, 1e-4}, fmt::format("resnet-style run {} output {}", run, name));
  }
}

TEST(CudaBackendLowering, BertStyleEmbeddingsAndMaskHaveNoHostLayers) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  EXPECT_EQ(host_layers(bert_style_graph()), std::vector<std::string>{});
}


// --- the PyTorch (dynamo) export's attention mask ----------------------------------------------

// BERT's attention mask as torch.onnx (dynamo) writes it: the int64 mask cast to bool and picked
// through GatherND with a [batch, 1, 1, seq, 2] grid of (b, j), the grid built from Range over
// the batch, an arange constant and Expand to Shape(Max(a, b)); And with a constant, Where to the
// additive bias (0 or the lowest float). `batch` is symbolic unless pinned (> 0).
std::unique_ptr<Graph> torch_mask_graph(int64_t batch) {
  constexpr int64_t kSeq = 7;
  auto g = test::new_graph(20);
  const SymShape mask_shape{batch > 0 ? Dim::known(batch) : Dim::sym("batch"), Dim::known(kSeq)};
  Value* mask = test::input(*g, "mask", DataType::kInt64, mask_shape);
  auto v = [&](const char* name) { return g->add_value(name); };
  auto c64 = [&](const char* name, Dims dims, std::vector<int64_t> values) { return g->add_constant(name, test::i64(std::move(dims), values)); };
  Value *n1 = v("n1"), *n = v("n"), *mb = v("mb"), *ar = v("ar"), *u1 = v("u1"), *u2 = v("u2"), *mx = v("mx"), *s = v("s");
  Value *e1 = v("e1"), *i1 = v("i1"), *e2 = v("e2"), *i2 = v("i2"), *idx = v("idx"), *picked = v("picked"), *both = v("both"), *bias = v("bias");
  Node* shape = test::op(*g, "Shape", {mask}, {n1}, "shape_mask");
  shape->attrs.set_int("start", 0);
  shape->attrs.set_int("end", 1);
  test::op(*g, "Squeeze", {n1}, {n}, "squeeze");
  test::op(*g, "Cast", {mask}, {mb}, "cast")->attrs.set_int("to", static_cast<int64_t>(DataType::kBool));
  test::op(*g, "Range", {c64("zero", {}, {0}), n, c64("one", {}, {1})}, {ar}, "arange");
  test::op(*g, "Unsqueeze", {ar, c64("axes12", {2}, {1, 2})}, {u1}, "unsqueeze_1");
  test::op(*g, "Unsqueeze", {u1, c64("axes3", {1}, {3})}, {u2}, "unsqueeze_2");
  Value* cols = c64("cols", {1, 1, 1, kSeq}, {0, 1, 2, 3, 4, 5, 6});
  test::op(*g, "Max", {u2, cols}, {mx}, "max");
  test::op(*g, "Shape", {mx}, {s}, "shape_max");
  Value* last = c64("last", {1}, {-1});
  test::op(*g, "Expand", {u2, s}, {e1}, "expand_rows");
  test::op(*g, "Unsqueeze", {e1, last}, {i1}, "unsqueeze_rows");
  test::op(*g, "Expand", {cols, s}, {e2}, "expand_cols");
  test::op(*g, "Unsqueeze", {e2, last}, {i2}, "unsqueeze_cols");
  test::op(*g, "Concat", {i1, i2}, {idx}, "concat")->attrs.set_int("axis", -1);
  test::op(*g, "GatherND", {mb, idx}, {picked}, "gather_nd")->attrs.set_int("batch_dims", 0);
  Tensor keep = *Tensor::allocate(DataType::kBool, {1, 1, kSeq, 1});
  for (int64_t i = 0; i < kSeq; ++i) keep.data_as<uint8_t>()[i] = i == 3 ? 0 : 1;
  test::op(*g, "And", {g->add_constant("keep", keep), picked}, {both}, "and");
  test::op(*g, "Where", {both, g->add_constant("zero_f", test::f32({}, {0.f})), g->add_constant("lowest", test::f32({}, {-3.4028234663852886e38f}))},
           {bias}, "where");
  g->add_output(bias);
  return g;
}

// The builder's steps for cuda without a device: inference, the passes at the default level,
// each node's kernel from the cuda table, the device copies.
Status lower_for_cuda(Graph& g) {
  const Backend& cuda = *find_backend("cuda");
  KILN_RETURN_IF_ERROR(infer_and_annotate(g));
  PassOptions po;
  po.opt_level = 3;
  po.channels_last_convs = cuda.prefers_channels_last();
  KILN_RETURN_IF_ERROR(run_passes(g, po));
  KILN_RETURN_IF_ERROR(infer_and_annotate(g));
  for (const auto& np : g.nodes()) {
    const KernelEntry* e = cuda.kernels().find(*np);
    if (!e) return internal_error("no kernel for " + np->describe());
    np->backend = e->backend.empty() ? cuda.name() : e->backend;
    np->kernel = e->name;
  }
  return insert_device_copies(g, cuda);
}

// Symbolic batch: what stays on the host is the batch's shape arithmetic (Shape, Squeeze, Range,
// Gather, Concat of rank <= 1) and the Unsqueeze of the host's Range, all computed ahead of the
// run once per shape; no host layer reads a device value (so runs can be captured in a CUDA
// graph), and the Max computed only for its shape is gone.
TEST(CudaBackendLowering, TorchMaskChainRunsOnTheDeviceButItsShapeArithmetic) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  auto g = torch_mask_graph(0);
  const Status s = lower_for_cuda(*g);
  ASSERT_TRUE(s.ok()) << s.message();
  std::map<std::string, std::string> backend_of_op;
  for (const auto& np : g->nodes()) {
    const Node& n = *np;
    if (n.op_type == "Max") ADD_FAILURE() << n.name << ": the Max read only for its shape should be gone";
    if (n.op_type == "CopyToHost") {
      EXPECT_TRUE(n.output(0)->is_graph_output()) << n.name << " copies '" << n.input(0)->name() << "' to a host layer";
    }
    if (n.backend == "cuda") continue;
    const Value* out = n.output(0);
    const bool rank_le_1_int = out && (out->dtype == DataType::kInt64 || out->dtype == DataType::kInt32) && out->shape && out->shape->size() <= 1;
    const bool host_range_unsqueezed = n.op_type == "Unsqueeze" && n.input(0)->name() == "ar";
    EXPECT_TRUE(rank_le_1_int || host_range_unsqueezed) << n.op_type << " " << n.name << " runs on the host";
  }
  for (const auto& np : g->nodes()) backend_of_op[np->op_type] = np->backend;
  for (const char* op : {"Cast", "Expand", "Concat", "GatherND", "And", "Where"}) EXPECT_EQ(backend_of_op[op], "cuda") << op;
}

// A pinned batch: the grid folds to a constant and every layer runs on the device.
TEST(CudaBackendLowering, TorchMaskChainWithAPinnedBatchHasNoHostLayers) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  EXPECT_EQ(host_layers(torch_mask_graph(2)), std::vector<std::string>{});
}

TEST(CudaBackendLowering, GatherNdAndConstantGathersAlongUnknownAxes) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  const DataType f32 = DataType::kFloat32, i64 = DataType::kInt64;
  EXPECT_EQ(lowered({"", "GatherND", "", 13, {data("x", f32, {4, 5}), int_data("i", i64, {3, 2}, {0, 0, 1, 1, 2, 2})}}), "cuda/cuda_gather_nd");
  EXPECT_EQ(lowered({"", "GatherND", "", 13, {data("x", DataType::kBool, {2, 7}, 0, 2), In{In::kIntConst, "i", i64, {2, 1}, 0, 0, {1, -2}}}}),
            "cuda/cuda_gather_nd");
  // Elements move as bytes: any fixed-size dtype.
  EXPECT_EQ(lowered({"", "GatherND", "", 13, {data("x", DataType::kFloat64, {4, 5}), int_data("i", i64, {3, 1}, {0, 1, 2})}}), "cuda/cuda_gather_nd");
  auto refused = [](const OpCase& c) {
    const std::string got = lowered(c);
    EXPECT_EQ(got.rfind("reference/", 0), 0u) << c.name << " lowered to " << got;
  };
  refused({"GatherND constant index out of range", "GatherND", "", 13, {data("x", f32, {4, 5}), In{In::kIntConst, "i", i64, {1, 2}, 0, 0, {0, 5}}}});
  refused({"GatherND of a shape", "GatherND", "", 13, {data("s", i64, {4}, 1, 9), int_data("i", i64, {2, 1}, {0, 3})}});
  refused({"GatherND tuples of 9", "GatherND", "", 13,
           {data("x", f32, {1, 1, 1, 1, 1, 1, 1, 1, 2}), int_data("i", i64, {1, 9}, {0, 0, 0, 0, 0, 0, 0, 0, 1})}});
  // The pooler's Gather of token 0 along a sequence axis of unknown length: checked at each run.
  auto g = test::new_graph(17);
  Value* x = test::input(*g, "x", f32, SymShape{Dim::known(2), Dim::sym("seq"), Dim::known(8)});
  Value* y = g->add_value("y");
  test::op(*g, "Gather", {x, g->add_constant("first", test::i64({}, {0}))}, {y}, "op")->attrs.set_int("axis", 1);
  g->add_output(y);
  ASSERT_TRUE(infer_and_annotate(*g).ok());
  const KernelEntry* e = find_backend("cuda")->kernels().find(*g->nodes().back());
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->backend.empty() ? "cuda/" + e->name : e->backend + "/" + e->name, "cuda/cuda_gather");
}

// The torch mask chain at two batch sizes on the device: the reference's bits, only shape
// arithmetic on the host, and runs replayed from a CUDA graph.
TEST(CudaBackend, TorchMaskChainRunsOnTheDeviceAndIsCaptured) {
  KILN_REQUIRE_CUDA();
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.opt_level = 3;
  auto cuda = test::build(torch_mask_graph(0), config);
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", torch_mask_graph(0));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (const LayerInfo& l : cuda->info().layers) {
    if (l.op == "GatherND" || l.op == "And" || l.op == "Where" || l.op == "Cast" || l.op == "Expand") {
      EXPECT_EQ(l.backend, "cuda") << l.name;
    }
  }
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  ASSERT_TRUE((*ctx)->set_cuda_graph(true).ok());
  for (int64_t batch : {3, 2}) {
    for (int run = 0; run < 3; ++run) {
      const NamedTensors in{{"mask", random_tensor(DataType::kInt64, {batch, 7}, 90 + 10 * batch + run, 0, 2)}};
      NamedTensors want;
      ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
      NamedTensors got{{"bias", poisoned(DataType::kFloat32, {batch, 1, 7, 7})}};
      const Status s = (*ctx)->run(in, &got);
      ASSERT_TRUE(s.ok()) << s.message();
      expect_close(got.at("bias"), want.at("bias"), kExact, fmt::format("torch mask batch {} run {}", batch, run));
    }
    EXPECT_EQ((*ctx)->cuda_graph_note(), "") << "batch " << batch;
  }
  const auto c = (*ctx)->cuda_graph_counts();
  EXPECT_EQ(c.uncaptured, 2);  // the first run at each shape
  EXPECT_EQ(c.captured, 2);
  EXPECT_EQ(c.replayed, 2);
}

// Gather of a constant index along an axis whose length the build did not know: the reference's
// bits, and the reference's error when the axis is empty at run time (index 0 is out of range).
TEST(CudaBackend, ConstantGatherAlongAnUnknownAxisIsCheckedAtEachRun) {
  KILN_REQUIRE_CUDA();
  auto make = [] {
    auto g = test::new_graph(17);
    Value* x = test::input(*g, "x", DataType::kFloat32, SymShape{Dim::known(2), Dim::sym("seq"), Dim::known(8)});
    Value *first = g->add_value("first"), *last = g->add_value("last");
    test::op(*g, "Gather", {x, g->add_constant("zero", test::i64({}, {0}))}, {first}, "gather_first")->attrs.set_int("axis", 1);
    test::op(*g, "Gather", {x, g->add_constant("minus_one", test::i64({1}, {-1}))}, {last}, "gather_last")->attrs.set_int("axis", -2);
    g->add_output(first);
    g->add_output(last);
    return g;
  };
  auto cuda = build_for("cuda", make());
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  auto ref = build_for("reference", make());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (const LayerInfo& l : cuda->info().layers) {
    if (l.op == "Gather") {
      EXPECT_EQ(l.kernel, "cuda_gather") << l.name;
    }
  }
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  for (int64_t seq : {5, 1}) {
    const NamedTensors in{{"x", random_tensor(DataType::kFloat32, {2, seq, 8}, 200 + seq, -2, 2)}};
    NamedTensors want;
    ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
    NamedTensors got;
    for (const auto& [name, t] : want) got[name] = poisoned(t.dtype(), t.shape());
    const Status s = (*ctx)->run(in, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (const auto& [name, t] : want) expect_close(got.at(name), t, kExact, fmt::format("seq {} output {}", seq, name));
  }
  const NamedTensors empty{{"x", random_tensor(DataType::kFloat32, {2, 0, 8}, 7, -2, 2)}};
  NamedTensors want, got;
  const Status rs = (*ref_ctx)->run(empty, &want);
  const Status s = (*ctx)->run(empty, &got);
  EXPECT_FALSE(rs.ok());
  ASSERT_FALSE(s.ok()) << "an empty axis has no index 0";
  EXPECT_TRUE(test::contains(s.message(), "out of range")) << s.message();
}

// --- packed QKV attention (qkv_packed = 1) --------------------------------------------------------

std::function<void(Attributes&)> packed_heads(int64_t h, int64_t causal = 0) {
  return [h, causal](Attributes& a) {
    a.set_int("num_heads", h);
    a.set_int("qkv_packed", 1);
    if (causal) a.set_int("causal", 1);
  };
}

// The wrapper reads Q, K, V in place from QKV [B, S, 3E]; against the reference's packed op.
TEST(CudaBackend, PackedQkvAttentionMatchesTheReference) {
  KILN_REQUIRE_CUDA();
  const Tolerance f32{1e-4, 1e-5}, f16{4e-3, 4e-3}, bf16{3e-2, 3e-2};
  // float32 (the fp32-arithmetic kernel), causal, odd sequence length.
  run_case({"packed Attention f32 causal", "Attention", "kiln", 1,
            {data("qkv", DataType::kFloat32, {2, 37, 3 * 4 * 16}, -1, 1), omitted(), omitted()}, packed_heads(4, 1), 1,
            "cuda_attention", f32});
  // float16 on the tensor-core path (head dim 64), key padding mask.
  run_case({"packed Attention f16 padding mask", "Attention", "kiln", 1,
            {data("qkv", DataType::kFloat16, {2, 129, 3 * 2 * 64}, -1, 1), omitted(), omitted(),
             data("mask", DataType::kFloat16, {2, 1, 1, 129}, -4, 0)},
            packed_heads(2), 1, "cuda_attention", f16});
  // bfloat16 head dim 128, a full [B, H, S, S] mask and causal.
  run_case({"packed Attention bf16 full mask causal", "Attention", "kiln", 1,
            {data("qkv", DataType::kBFloat16, {1, 70, 3 * 2 * 128}, -1, 1), omitted(), omitted(),
             data("mask", DataType::kBFloat16, {1, 2, 70, 70}, -4, 0)},
            packed_heads(2, 1), 1, "cuda_attention", bf16});
  // float16 with an odd head dim: the fp32-arithmetic kernel with the wide row stride.
  run_case({"packed Attention f16 head dim 20", "Attention", "kiln", 1,
            {data("qkv", DataType::kFloat16, {2, 33, 3 * 3 * 20}, -1, 1), omitted(), omitted()}, packed_heads(3), 1,
            "cuda_attention", f16});
}

// BERT-base's attention at batch 2 in fp16 (S 128, E 768, 12 heads of 64) read from the packed
// projection, with a key-padding mask (batch 0: the last 40 keys at -inf; batch 1: random
// additive values and the last 8 keys at fp16's lowest), against attention computed here in
// double from the same fp16 values (scores rounded to fp32 after the scale and after the mask,
// as docs/fused_ops.md specifies).
TEST(CudaBackend, PackedQkvAttentionBertBaseFp16MatchesADoubleReference) {
  KILN_REQUIRE_CUDA();
  const int64_t B = 2, S = 128, H = 12, D = 64, E = H * D;
  auto g = test::new_graph(17);
  g->opset_imports[kKilnDomain] = 1;
  Value* qkv = test::input(*g, "qkv", DataType::kFloat16, sym_shape({B, S, 3 * E}));
  Value* mask = test::input(*g, "mask", DataType::kFloat16, sym_shape({B, 1, 1, S}));
  Value* y = g->add_value("y");
  Node* n = g->add_node("Attention", {qkv, nullptr, nullptr, mask}, {y}, "op", kKilnDomain);
  n->opset = 1;
  n->fused_from = {"op"};
  n->schema = OpRegistry::global().find(kKilnDomain, "Attention", 1);
  packed_heads(H)(n->attrs);
  g->add_output(y);
  auto e = build_for("cuda", std::move(g));
  ASSERT_TRUE(e.ok()) << e.status().message();
  const LayerInfo* l = layer_named(e->info(), "op");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->backend, "cuda");
  EXPECT_EQ(l->kernel, "cuda_attention");

  const Tensor qkv_t = random_tensor(DataType::kFloat16, {B, S, 3 * E}, 2024, -1, 1);
  Tensor mask_t = random_tensor(DataType::kFloat16, {B, 1, 1, S}, 2025, -2, 0);
  for (int64_t j = 0; j < S; ++j) {
    if (j >= S - 40) set_value(mask_t, j, -std::numeric_limits<double>::infinity());
    else set_value(mask_t, j, 0);
    if (j >= S - 8) set_value(mask_t, S + j, -65504.0);
  }
  auto ctx = e->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out{{"y", poisoned(DataType::kFloat16, {B, S, E})}};
  const Status s = (*ctx)->run({{"qkv", qkv_t}, {"mask", mask_t}}, &out);
  ASSERT_TRUE(s.ok()) << s.message();
  const Tensor& got = out.at("y");
  ASSERT_EQ(got.shape(), (Dims{B, S, E}));

  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  double err2 = 0, ref2 = 0, max_abs = 0;
  int64_t non_finite = 0;
  std::vector<double> p(static_cast<size_t>(S));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < S; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < D; ++c) {
            dot += value_at(qkv_t, (b * S + i) * 3 * E + h * D + c) * value_at(qkv_t, (b * S + j) * 3 * E + E + h * D + c);
          }
          const float sc = static_cast<float>(static_cast<double>(scale) * dot) + static_cast<float>(value_at(mask_t, b * S + j));
          p[static_cast<size_t>(j)] = sc;
          mx = std::max(mx, static_cast<double>(sc));
        }
        double sum = 0;
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int64_t c = 0; c < D; ++c) {
          double want = 0;
          for (int64_t j = 0; j < S; ++j) want += p[static_cast<size_t>(j)] / sum * value_at(qkv_t, (b * S + j) * 3 * E + 2 * E + h * D + c);
          const double g2 = value_at(got, (b * S + i) * E + h * D + c);
          if (!std::isfinite(g2)) {
            ++non_finite;
            continue;
          }
          err2 += (g2 - want) * (g2 - want);
          ref2 += want * want;
          max_abs = std::max(max_abs, std::abs(g2 - want));
        }
      }
    }
  }
  EXPECT_EQ(non_finite, 0) << "outputs left poisoned or not finite";
  ASSERT_GT(ref2, 0.0);
  EXPECT_LE(std::sqrt(err2 / ref2), 4e-3) << "relative L2 error";
  EXPECT_LE(max_abs, 4e-3) << "max abs error";
}

// The passes on a BERT-style block (three projections with biases, then attention) for cuda in
// fp16: the projections merged, the Split gone, the Attention packed, within fp16 error of the
// reference's unoptimized float32 graph.
std::unique_ptr<Graph> qkv_block_graph() {
  auto g = test::new_graph(17);
  g->opset_imports[kKilnDomain] = 1;
  const int64_t E = 2 * 64;
  Value* x = test::input(*g, "x", DataType::kFloat32, {Dim::sym("batch"), Dim::sym("seq"), Dim::known(E)});
  Value* mask = test::input(*g, "mask", DataType::kFloat32, {Dim::sym("batch"), Dim::known(1), Dim::known(1), Dim::sym("seq")});
  std::vector<Value*> ins;
  for (int i = 0; i < 3; ++i) {
    Value* mm = g->add_value(fmt::format("mm{}", i));
    test::op(*g, "MatMul", {x, g->add_constant(fmt::format("w{}", i), random_tensor(DataType::kFloat32, {E, E}, 300 + i, -0.2, 0.2))}, {mm});
    Value* p = g->add_value(fmt::format("p{}", i));
    test::op(*g, "Add", {mm, g->add_constant(fmt::format("b{}", i), random_tensor(DataType::kFloat32, {E}, 310 + i, -1, 1))}, {p});
    ins.push_back(p);
  }
  ins.push_back(mask);
  Value* y = g->add_value("y");
  Node* n = g->add_node("Attention", ins, {y}, "attn", kKilnDomain);
  n->opset = 1;
  n->fused_from = {"attn"};
  n->schema = OpRegistry::global().find(kKilnDomain, "Attention", 1);
  n->attrs.set_int("num_heads", 2);
  g->add_output(y);
  return g;
}

TEST(CudaBackendLowering, QkvBlockBecomesOneProductAndAPackedAttentionOnTheDevice) {
  ASSERT_NE(find_backend("cuda"), nullptr);
  EXPECT_EQ(host_layers(qkv_block_graph()), std::vector<std::string>{});
  auto g = qkv_block_graph();
  ASSERT_TRUE(infer_and_annotate(*g).ok());
  PassOptions po;
  po.opt_level = 3;
  po.verify = true;
  ASSERT_TRUE(run_passes(*g, po).ok());
  std::vector<std::string> ops;
  for (const auto& np : g->nodes()) ops.push_back(np->op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"FusedMatMul", "Attention"}));
  const Node* att = g->nodes().back().get();
  EXPECT_EQ(att->attrs.get_int("qkv_packed", 0), 1);
  EXPECT_EQ(att->input(1), nullptr);
  EXPECT_EQ(att->input(2), nullptr);
  // The packed node alone, as the cuda table sees it.
  EXPECT_EQ(lowered({"", "Attention", "kiln", 1,
                     {data("qkv", DataType::kFloat16, {2, 8, 3 * 128}), omitted(), omitted(), data("mask", DataType::kFloat16, {2, 1, 1, 8})},
                     packed_heads(2)}),
            "cuda/cuda_attention");
  EXPECT_EQ(lowered({"", "Attention", "kiln", 1, {data("qkv", DataType::kFloat32, {2, 8, 3 * 24}), omitted(), omitted()}, packed_heads(3, 1)}),
            "cuda/cuda_attention");
}

TEST(CudaBackend, QkvBlockInFp16MatchesTheReference) {
  KILN_REQUIRE_CUDA();
  BuilderConfig config = test::quiet_config();
  config.backend = "cuda";
  config.precision = "fp16";
  config.opt_level = 3;
  auto cuda = test::build(qkv_block_graph(), config);
  ASSERT_TRUE(cuda.ok()) << cuda.status().message();
  bool packed = false;
  for (const LayerInfo& l : cuda->info().layers) {
    EXPECT_NE(l.op, "Split");
    if (l.op == "kiln.Attention") {
      packed = l.detail.find("qkv_packed") != std::string::npos;
      EXPECT_EQ(l.backend, "cuda");
      EXPECT_EQ(l.precision, "fp16");
    }
  }
  EXPECT_TRUE(packed) << "the Attention reads the merged projection in place";
  auto ref = build_for("reference", qkv_block_graph());
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto ctx = cuda->create_execution_context();
  auto ref_ctx = ref->create_execution_context();
  ASSERT_TRUE(ctx.ok() && ref_ctx.ok());
  Tensor mask = random_tensor(DataType::kFloat32, {2, 1, 1, 40}, 320, -1, 0);
  for (int64_t j = 30; j < 40; ++j) set_value(mask, j, -std::numeric_limits<double>::infinity());
  const NamedTensors in{{"x", random_tensor(DataType::kFloat32, {2, 40, 128}, 321, -1, 1)}, {"mask", mask}};
  NamedTensors want;
  ASSERT_TRUE((*ref_ctx)->run(in, &want).ok());
  NamedTensors got{{"y", poisoned(DataType::kFloat32, want.at("y").shape())}};
  const Status s = (*ctx)->run(in, &got);
  ASSERT_TRUE(s.ok()) << s.message();
  expect_close(got.at("y"), want.at("y"), {2e-2, 2e-2}, "qkv block fp16");
}

}  // namespace
}  // namespace kiln

#else  // !KILN_HAVE_CUDA

TEST(CudaBackend, NotBuilt) { GTEST_SKIP() << "skipped: built without CUDA (KILN_CUDA off)"; }

#endif  // KILN_HAVE_CUDA
