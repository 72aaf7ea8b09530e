// Build-time tuning on the cuda backend (ops/tuning.h): the FusedConv, MatMul, Gemm and
// FusedMatMul entries' pack times cuDNN's and cuBLASLt's candidates at each profile's opt shapes
// (or replays the timing cache's choice) and keeps one record per distinct problem in the engine;
// a run at any profile's opt shapes replays its record, other shapes and damaged records get the
// heuristic. The record list in backend_data (and an engine's single record from before several
// profiles were tuned), and the choice of a run's record, are checked without a GPU. And the
// engine's device signature: the GPU and libraries it records, and the sentence that refuses
// another.
//
// One graph holds all four tuned layers: a channels-last FusedConv (bias, Relu) whose output a
// MatMul with a 2-D weight reads (its batch dims become rows), and a Gemm (transB, C as a row)
// and a FusedMatMul (bias, Relu) on a second input. Batch N is symbolic; the profile's opt is 2.
// Outputs are compared with the reference backend's on random inputs, pre-bound poisoned (NaN).
//
// The GPU cases skip with "skipped: no CUDA device"; the signature comparison runs everywhere.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "backends/backend.h"
#include "backends/cuda/cuda_device.h"
#include "backends/cuda/libs/cublaslt_matmul.h"
#include "backends/cuda/libs/cudnn_conv.h"
#include "backends/cuda/ops/tuning.h"
#include "backends/timing_cache.h"
#include "core/float16.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "runtime/engine_state.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using test::contains;

// --- the device signature (no GPU needed) --------------------------------------------------------

const std::string kH200 = "NVIDIA H200 sm_90, driver 13.0, CUDA runtime 13.0, cuDNN 9.14.0, cuBLASLt 13.1.0";

TEST(CudaSignature, TheSameGpuAndLibrariesMatch) {
  EXPECT_EQ(cuda::cuda_signature_mismatch(kH200, kH200), std::nullopt);
  // The driver is recorded, not required: a newer one runs what an older one built.
  EXPECT_EQ(cuda::cuda_signature_mismatch(kH200, "NVIDIA H200 sm_90, driver 13.2, CUDA runtime 13.0, cuDNN 9.14.0, cuBLASLt 13.1.0"),
            std::nullopt);
}

TEST(CudaSignature, SaysWhatDiffers) {
  auto gpu = cuda::cuda_signature_mismatch(
      "NVIDIA H100 80GB HBM3 sm_90, driver 13.0, CUDA runtime 13.0, cuDNN 9.14.0, cuBLASLt 13.1.0", kH200);
  ASSERT_TRUE(gpu.has_value());
  EXPECT_EQ(*gpu, "GPU NVIDIA H100 80GB HBM3 sm_90 at build time, NVIDIA H200 sm_90 here");

  auto libs = cuda::cuda_signature_mismatch(
      "NVIDIA H200 sm_90, driver 12.8, CUDA runtime 13.0, cuDNN 9.19.0, cuBLASLt 13.0.2", kH200);
  ASSERT_TRUE(libs.has_value());
  EXPECT_EQ(*libs, "cuDNN 9.19.0 at build time, 9.14.0 here; cuBLASLt 13.0.2 at build time, 13.1.0 here");

  auto cc = cuda::cuda_signature_mismatch("NVIDIA H200 sm_100, driver 13.0, CUDA runtime 13.0, cuDNN 9.14.0, cuBLASLt 13.1.0", kH200);
  ASSERT_TRUE(cc.has_value());
  EXPECT_TRUE(contains(*cc, "sm_100 at build time")) << *cc;

  // An engine from before the signature named the libraries.
  auto old = cuda::cuda_signature_mismatch("NVIDIA H200 sm_90, driver 13.0, CUDA runtime 13.0", kH200);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(*old, "cuDNN not recorded at build time, 9.14.0 here; cuBLASLt not recorded at build time, 13.1.0 here");
}

TEST(CudaSignature, LibraryVersionsAsText) {
  EXPECT_EQ(cuda::library_version_text(91400), "9.14.0");
  EXPECT_EQ(cuda::library_version_text(130100), "13.1.0");
  EXPECT_EQ(cuda::library_version_text(90102), "9.1.2");
}

// --- tuned records in backend_data, and the record a run replays (no GPU needed) ----------------

cuda::AlgoRecord algo_record(const std::string& key, uint64_t seed) {
  cuda::AlgoRecord r;
  r.key = key;
  r.cublaslt_version = 130100;
  for (size_t i = 0; i < r.algo.size(); ++i) r.algo[i] = seed * 1000003u + i;
  r.workspace_bytes = 4096 * seed;
  r.median_ms = 0.01f * static_cast<float>(seed);
  return r;
}

cuda::ConvPlanRecord conv_record(const std::string& problem_key, int64_t engine) {
  cuda::ConvPlanRecord r;
  r.cudnn_version = 91400;
  r.compute_capability = 90;
  r.problem_key = problem_key;
  r.engine_id = engine;
  r.knobs = {{2, static_cast<int64_t>(engine % 5)}, {14, 3}};
  return r;
}

void expect_same_algo_record(const cuda::AlgoRecord& got, const cuda::AlgoRecord& want) {
  EXPECT_EQ(got.key, want.key);
  EXPECT_EQ(got.cublaslt_version, want.cublaslt_version);
  EXPECT_EQ(got.algo, want.algo);
  EXPECT_EQ(got.workspace_bytes, want.workspace_bytes);
}

// The products of the test graph's Gemm at batches 1 and 64, as pack and a run key them.
cuda::MatmulDesc gemm_desc(int64_t batch) {
  cuda::MatmulDesc d;
  d.m = batch;
  d.n = 24;
  d.k = 40;
  d.trans_b = true;
  d.input_dtype = d.output_dtype = DataType::kFloat16;
  d.bias = true;
  return d;
}

cuda::ConvProblem conv_at(int64_t batch, bool epilogue) {
  cuda::ConvProblem p;
  p.batch = batch;
  p.in_channels = 16;
  p.in_height = p.in_width = 8;
  p.out_channels = 32;
  p.kernel_height = p.kernel_width = 3;
  p.pads_begin = p.pads_end = {1, 1};
  p.has_bias = epilogue;
  if (epilogue) p.activation = Activation::kRelu;
  return p;
}

TEST(CudaTuningRecords, TheListRoundTripsThroughBackendData) {
  const std::vector<std::string> lines = {cuda::serialize_algo_record(algo_record(cuda::matmul_key(gemm_desc(1)), 1)),
                                          cuda::serialize_algo_record(algo_record(cuda::matmul_key(gemm_desc(64)), 2))};
  Attributes data;
  cuda::set_tuned_record_lines(data, "cublaslt_algos", lines);
  EXPECT_EQ(cuda::tuned_record_lines(data, "cublaslt_algos", "cublaslt_algo"), lines);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto parsed = cuda::parse_algo_record(cuda::tuned_record_lines(data, "cublaslt_algos", "cublaslt_algo")[i]);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    expect_same_algo_record(*parsed, algo_record(cuda::matmul_key(gemm_desc(i == 0 ? 1 : 64)), i + 1));
  }
  // Nothing tuned: no records.
  EXPECT_TRUE(cuda::tuned_record_lines(Attributes(), "cublaslt_algos", "cublaslt_algo").empty());
}

// An engine from before several profiles were tuned keeps its one record as a string under the
// singular key: read as a list of one, and replayed at its problem.
TEST(CudaTuningRecords, AnOldSingleRecordStillParses) {
  const cuda::AlgoRecord algo = algo_record(cuda::matmul_key(gemm_desc(2)), 3);
  Attributes old_product;
  old_product.set_string("cublaslt_algo", cuda::serialize_algo_record(algo));
  old_product.set_string(kTuningChoiceKey, "cublasLt algo 6 tile 18 stages 8 (tuned 0.031 ms)");
  const std::vector<std::string> product_lines = cuda::tuned_record_lines(old_product, "cublaslt_algos", "cublaslt_algo");
  ASSERT_EQ(product_lines.size(), 1u);
  auto parsed = cuda::parse_algo_record(product_lines[0]);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  expect_same_algo_record(*parsed, algo);
  EXPECT_EQ(cuda::tuned_record_for({parsed->key}, cuda::matmul_key(gemm_desc(2))), std::optional<size_t>(0));

  const cuda::ConvPlanRecord conv = conv_record(cuda::conv_problem_key(conv_at(2, true)), 7);
  Attributes old_conv;
  old_conv.set_string("cudnn_plan", conv.to_string());
  const std::vector<std::string> conv_lines = cuda::tuned_record_lines(old_conv, "cudnn_plans", "cudnn_plan");
  ASSERT_EQ(conv_lines.size(), 1u);
  auto conv_parsed = cuda::ConvPlanRecord::parse(conv_lines[0]);
  ASSERT_TRUE(conv_parsed.ok()) << conv_parsed.status().message();
  EXPECT_EQ(*conv_parsed, conv);
}

// A run replays the record tuned for its own problem; at a problem none was tuned for, none.
TEST(CudaTuningRecords, ARunReplaysTheRecordOfItsProblem) {
  const std::vector<std::string> keys = {cuda::matmul_key(gemm_desc(1)), cuda::matmul_key(gemm_desc(64))};
  ASSERT_NE(keys[0], keys[1]);
  EXPECT_EQ(cuda::tuned_record_for(keys, cuda::matmul_key(gemm_desc(1))), std::optional<size_t>(0));
  EXPECT_EQ(cuda::tuned_record_for(keys, cuda::matmul_key(gemm_desc(64))), std::optional<size_t>(1));
  EXPECT_EQ(cuda::tuned_record_for(keys, cuda::matmul_key(gemm_desc(3))), std::nullopt);
  cuda::MatmulDesc less_aligned = gemm_desc(64);
  less_aligned.alignment = 4;  // the alignment is part of the problem
  EXPECT_EQ(cuda::tuned_record_for(keys, cuda::matmul_key(less_aligned)), std::nullopt);
  EXPECT_EQ(cuda::tuned_record_for({}, keys[0]), std::nullopt);

  // Convolutions: the layer's own record first; else one for the convolution alone (cuDNN had no
  // fused engine at build time), when the run asks for that fallback.
  const std::string fused1 = cuda::conv_problem_key(conv_at(1, true)), plain1 = cuda::conv_problem_key(conv_at(1, false));
  const std::string fused64 = cuda::conv_problem_key(conv_at(64, true)), plain64 = cuda::conv_problem_key(conv_at(64, false));
  const std::vector<std::string> conv_keys = {plain1, fused64};
  EXPECT_EQ(cuda::tuned_record_for(conv_keys, fused1, plain1), std::optional<size_t>(0));
  EXPECT_EQ(cuda::tuned_record_for(conv_keys, fused1), std::nullopt);
  EXPECT_EQ(cuda::tuned_record_for(conv_keys, fused64, plain64), std::optional<size_t>(1));
  EXPECT_EQ(cuda::tuned_record_for({plain64, fused64}, fused64, plain64), std::optional<size_t>(1));
  EXPECT_EQ(cuda::tuned_record_for(conv_keys, cuda::conv_problem_key(conv_at(2, true)), cuda::conv_problem_key(conv_at(2, false))),
            std::nullopt);
}

TEST(CudaTuningRecords, ChoicesInWordsSayTheShapeFirst) {
  const std::string one = cuda::tuned_choice_text("cublasLt algo 6 tile 18 stages 8", 0.0312, {64, 128, 768});
  EXPECT_EQ(one, "at 64x128x768: cublasLt algo 6 tile 18 stages 8 (tuned 0.0312 ms)");
  EXPECT_EQ(cuda::join_tuned_choices({one, "at 1x128x768: cublasLt algo 21 (tuned 0.01 ms)"}),
            one + "; at 1x128x768: cublasLt algo 21 (tuned 0.01 ms)");
}

// --- the GPU cases ---------------------------------------------------------------------------------

bool cuda_usable() {
  const Backend* b = find_backend("cuda");
  return b && b->available().ok();
}

#define KILN_REQUIRE_CUDA() \
  if (!cuda_usable()) GTEST_SKIP() << "skipped: no CUDA device"

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("kiln_tuning_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

double value_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32: return t.data_as<float>()[i];
    case DataType::kFloat16: return static_cast<float>(t.data_as<Float16>()[i]);
    default: ADD_FAILURE() << "no test accessor for " << dtype_name(t.dtype()); return 0;
  }
}

// Uniform in [lo, hi), never exactly 0.
Tensor random_tensor(DataType dt, const Dims& dims, uint64_t seed, double lo, double hi) {
  auto t = Tensor::allocate(dt, dims);
  EXPECT_TRUE(t.ok());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < t->numel(); ++i) {
    double v = u(rng);
    if (v == 0) v = 0.5 * hi;
    if (dt == DataType::kFloat32) t->data_as<float>()[i] = static_cast<float>(v);
    else t->data_as<Float16>()[i] = Float16(static_cast<float>(v));
  }
  return *t;
}

Tensor poisoned(DataType dt, const Dims& dims) {
  auto t = Tensor::allocate(dt, dims);
  EXPECT_TRUE(t.ok());
  std::memset(t->data(), 0xff, t->nbytes());
  return *t;
}

constexpr int64_t kHW = 8, kC = 16, kK = 32, kMatN = 24, kA = 40, kFusedN = 32;

Node* kiln_op(Graph& g, const std::string& op, std::vector<Value*> ins, Value* out, const std::string& name) {
  Node* n = g.add_node(op, std::move(ins), {out}, name, kKilnDomain);
  n->opset = 1;
  n->fused_from = {name};
  n->schema = OpRegistry::global().find(kKilnDomain, op, 1);
  return n;
}

// The four tuned layers (file comment); weights from `dt`'s seed so every build sees the same.
std::unique_ptr<Graph> tuned_graph(DataType dt) {
  auto g = test::new_graph(17);
  g->opset_imports[kKilnDomain] = 1;
  Value* x = test::input(*g, "x", dt, SymShape{Dim::sym("N"), Dim::known(kHW), Dim::known(kHW), Dim::known(kC)});
  Value* a = test::input(*g, "a", dt, SymShape{Dim::sym("N"), Dim::known(kA)});
  Value* w = g->add_constant("w", random_tensor(dt, {kK, kC, 3, 3}, 1, -0.5, 0.5));
  Value* b = g->add_constant("b", random_tensor(dt, {kK}, 2, -0.5, 0.5));
  Value* conv_y = g->add_value("conv_y");
  Node* conv = kiln_op(*g, "FusedConv", {x, w, b}, conv_y, "conv");
  conv->attrs.set_int("channels_last", 1);
  conv->attrs.set_ints("kernel_shape", {3, 3});
  conv->attrs.set_ints("pads", {1, 1, 1, 1});
  conv->attrs.set_string("activation", "Relu");
  Value* w2 = g->add_constant("w2", random_tensor(dt, {kK, kMatN}, 3, -0.25, 0.25));
  Value* m = g->add_value("m");
  test::op(*g, "MatMul", {conv_y, w2}, {m}, "matmul");
  Value* w3 = g->add_constant("w3", random_tensor(dt, {kMatN, kA}, 4, -0.25, 0.25));
  Value* c3 = g->add_constant("c3", random_tensor(dt, {kMatN}, 5, -0.5, 0.5));
  Value* gy = g->add_value("g");
  test::op(*g, "Gemm", {a, w3, c3}, {gy}, "gemm")->attrs.set_int("transB", 1);
  Value* w4 = g->add_constant("w4", random_tensor(dt, {kA, kFusedN}, 6, -0.25, 0.25));
  Value* b4 = g->add_constant("b4", random_tensor(dt, {kFusedN}, 7, -0.5, 0.5));
  Value* f = g->add_value("f");
  kiln_op(*g, "FusedMatMul", {a, w4, b4}, f, "fused_matmul")->attrs.set_string("activation", "Relu");
  g->add_output(m);
  g->add_output(gy);
  g->add_output(f);
  return g;
}

const std::vector<std::string> kTunedLayers = {"conv", "matmul", "gemm", "fused_matmul"};

BuilderConfig config_for(const std::string& backend, const std::string& cache = "", bool tune = true) {
  BuilderConfig c = test::quiet_config();
  c.backend = backend;
  c.opt_level = 0;  // the layers as written
  c.tune_kernels = tune;
  c.timing_cache = cache;
  c.profile = {{"x", {1, kHW, kHW, kC}, {2, kHW, kHW, kC}, {4, kHW, kHW, kC}}, {"a", {1, kA}, {2, kA}, {4, kA}}};
  return c;
}

// `var`: the graph built with `config`; on failure the test fails and returns.
#define BUILD_OR_RETURN(var, dt, config)                               \
  auto var##_built = test::build(tuned_graph(dt), config);           \
  ASSERT_TRUE(var##_built.ok()) << var##_built.status().message(); \
  const Engine& var = *var##_built

NamedTensors inputs(DataType dt, int64_t batch, uint64_t seed) {
  return {{"x", random_tensor(dt, {batch, kHW, kHW, kC}, seed, -1, 1)}, {"a", random_tensor(dt, {batch, kA}, seed + 1, -1, 1)}};
}

NamedTensors run(const Engine& e, const NamedTensors& in) {
  auto ctx = e.create_execution_context();
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  NamedTensors out;
  if (!ctx.ok()) return out;
  const int64_t batch = in.at("a").dim(0);
  const DataType dt = in.at("a").dtype();
  out["m"] = poisoned(dt, {batch, kHW, kHW, kMatN});
  out["g"] = poisoned(dt, {batch, kMatN});
  out["f"] = poisoned(dt, {batch, kFusedN});
  const Status s = (*ctx)->run(in, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

struct Tolerance {
  double rtol, atol;
};
// float32: exact fp32 products (no TF32) in another order; float16: a rounding of the output and
// of the conv's output the MatMul reads, at values of about 1.
Tolerance tolerance_of(DataType dt) { return dt == DataType::kFloat32 ? Tolerance{1e-4, 1e-4} : Tolerance{1e-2, 1e-2}; }

void expect_close(const NamedTensors& got, const NamedTensors& want, Tolerance tol, const std::string& what) {
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": no output " << name;
    const Tensor& g = got.at(name);
    ASSERT_EQ(g.shape(), w.shape()) << what << " " << name;
    int failures = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double a = value_at(g, i), b = value_at(w, i);
      if (!(std::abs(a - b) <= tol.atol + tol.rtol * std::abs(b)) && failures++ < 5) {
        ADD_FAILURE() << what << " " << name << "[" << i << "]: " << a << " vs " << b;
      }
    }
    EXPECT_EQ(failures, 0) << what << " " << name << ": " << failures << " of " << w.numel() << " differ";
  }
}

bool same_bits(const NamedTensors& a, const NamedTensors& b) {
  for (const auto& [name, t] : a) {
    if (!b.count(name) || !test::same_bits(t, b.at(name))) return false;
  }
  return a.size() == b.size();
}

// Every string (or list of strings, one per line) a node keeps in backend_data, by "layer/key".
std::map<std::string, std::string> backend_strings(const Engine& e) {
  std::map<std::string, std::string> out;
  for (const auto& n : e.state()->graph->nodes()) {
    for (const auto& [key, a] : n->backend_data.all()) {
      if (a.kind == Attribute::Kind::kString) out[n->name + "/" + key] = a.s;
      if (a.kind == Attribute::Kind::kStrings) {
        std::string lines;
        for (const std::string& line : a.strings) lines += line + "\n";
        out[n->name + "/" + key] = lines;
      }
    }
  }
  return out;
}

struct Counts {
  size_t timed, replayed, heuristic;
};
Counts counts() {
  const auto& c = cuda::tuning_counters();
  return {c.layers_timed.load(), c.records_replayed.load(), c.heuristic_plans.load()};
}

const DataType kTypes[] = {DataType::kFloat32, DataType::kFloat16};

// The test graph itself, without a GPU: it builds and runs on the reference backend at several
// batches, and the cpu backend (oneDNN, float32) agrees with it, so a GPU run that fails points
// at the cuda backend, not at the test.
// ... and the cuda table takes its four layers with the tuning kernels (no GPU needed to ask).
TEST(CudaTuningGraph, LowersToTheTuningKernels) {
  const Backend* cuda = find_backend("cuda");
  ASSERT_NE(cuda, nullptr);
  for (DataType dt : kTypes) {
    auto g = tuned_graph(dt);
    ASSERT_TRUE(infer_and_annotate(*g).ok());
    const std::map<std::string, std::string> want = {
        {"conv", "cudnn_fused_conv"}, {"matmul", "cublaslt_matmul"}, {"gemm", "cublaslt_gemm"}, {"fused_matmul", "cublaslt_fused_matmul"}};
    for (const auto& n : g->nodes()) {
      const KernelEntry* k = cuda->kernels().find(*n);
      ASSERT_NE(k, nullptr) << n->name;
      EXPECT_EQ(k->name, want.at(n->name)) << n->name;
      EXPECT_TRUE(static_cast<bool>(k->pack)) << n->name;
    }
  }
}

TEST(CudaTuningGraph, RunsOnTheHostBackends) {
  for (DataType dt : kTypes) {
    SCOPED_TRACE(dtype_name(dt));
    BUILD_OR_RETURN(ref, dt, config_for("reference"));
    for (int64_t batch : {1, 2, 3}) {
      const NamedTensors in = inputs(dt, batch, 70 + static_cast<uint64_t>(batch));
      const NamedTensors want = run(ref, in);
      ASSERT_EQ(want.size(), 3u);
      for (const auto& [name, t] : want) {
        for (int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(value_at(t, i))) << name << "[" << i << "]";
      }
      if (dt == DataType::kFloat32) {
        BUILD_OR_RETURN(cpu, dt, config_for("cpu"));
        expect_close(run(cpu, in), want, tolerance_of(dt), "cpu backend");
      }
    }
  }
}

// The record lists survive an engine file (built here on the reference backend, whose kernels
// ignore backend_data, with lists set as the cuda pack hooks set them).
TEST(CudaTuningRecords, TheListRoundTripsThroughAnEngineFile) {
  BUILD_OR_RETURN(e, DataType::kFloat32, config_for("reference"));
  const std::vector<std::string> algos = {cuda::serialize_algo_record(algo_record(cuda::matmul_key(gemm_desc(1)), 1)),
                                          cuda::serialize_algo_record(algo_record(cuda::matmul_key(gemm_desc(64)), 2))};
  const std::vector<cuda::ConvPlanRecord> plans = {conv_record(cuda::conv_problem_key(conv_at(1, true)), 3),
                                                   conv_record(cuda::conv_problem_key(conv_at(64, false)), 4)};
  const std::string words = cuda::join_tuned_choices({"at 1x40: cublasLt algo 1 (tuned 0.01 ms)", "at 64x40: cublasLt algo 2 (tuned 0.02 ms)"});
  size_t set = 0;
  for (const auto& n : e.state()->graph->nodes()) {
    if (n->name == "gemm") {
      cuda::set_tuned_record_lines(n->backend_data, "cublaslt_algos", algos);
      n->backend_data.set_string(kTuningChoiceKey, words);
      ++set;
    } else if (n->name == "conv") {
      cuda::set_tuned_record_lines(n->backend_data, "cudnn_plans", {plans[0].to_string(), plans[1].to_string()});
      ++set;
    }
  }
  ASSERT_EQ(set, 2u);
  auto state = make_engine_state(e.state()->graph, e.state()->meta, nullptr);
  ASSERT_TRUE(state.ok()) << state.status().message();
  auto bytes = Engine(*state).serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  size_t found = 0;
  for (const auto& n : loaded->state()->graph->nodes()) {
    if (n->name == "gemm") {
      EXPECT_EQ(cuda::tuned_record_lines(n->backend_data, "cublaslt_algos", "cublaslt_algo"), algos);
      ++found;
    } else if (n->name == "conv") {
      const std::vector<std::string> lines = cuda::tuned_record_lines(n->backend_data, "cudnn_plans", "cudnn_plan");
      ASSERT_EQ(lines.size(), plans.size());
      for (size_t i = 0; i < lines.size(); ++i) {
        auto parsed = cuda::ConvPlanRecord::parse(lines[i]);
        ASSERT_TRUE(parsed.ok()) << parsed.status().message();
        EXPECT_EQ(*parsed, plans[i]);
      }
      ++found;
    }
  }
  EXPECT_EQ(found, 2u);
  const EngineInfo info = loaded->info();
  auto gemm = std::find_if(info.layers.begin(), info.layers.end(), [](const LayerInfo& l) { return l.name == "gemm"; });
  ASSERT_NE(gemm, info.layers.end());
  EXPECT_EQ(gemm->tuning, words);
}

TEST(CudaTuning, TunesEachLayerAndAWarmCacheTimesNothing) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kTypes) {
    SCOPED_TRACE(dtype_name(dt));
    TempDir dir;
    const std::string cache = dir.file("tc.json");
    const Counts c0 = counts();
    BUILD_OR_RETURN(cold, dt, config_for("cuda", cache));
    const Counts c1 = counts();
    EXPECT_EQ(c1.timed - c0.timed, kTunedLayers.size());
    // `kiln inspect`'s view: every tuned layer says what it chose.
    const EngineInfo info = cold.info();
    for (const std::string& name : kTunedLayers) {
      auto it = std::find_if(info.layers.begin(), info.layers.end(), [&](const LayerInfo& l) { return l.name == name; });
      ASSERT_NE(it, info.layers.end()) << name;
      EXPECT_EQ(it->backend, "cuda") << name;
      EXPECT_TRUE(contains(it->tuning, name == "conv" ? "cuDNN engine " : "cublasLt algo ")) << name << ": " << it->tuning;
      EXPECT_TRUE(contains(it->tuning, " ms)")) << name << ": " << it->tuning;
    }
    auto file = TimingCache::open(cache);
    ASSERT_TRUE(file.ok()) << file.status().message();
    EXPECT_EQ(file->size(), kTunedLayers.size()) << slurp(cache);
    const std::string cache_bytes = slurp(cache);

    BUILD_OR_RETURN(warm, dt, config_for("cuda", cache));
    const Counts c2 = counts();
    EXPECT_EQ(c2.timed - c1.timed, 0u) << "a warm cache must time nothing";
    EXPECT_EQ(backend_strings(warm), backend_strings(cold));
    EXPECT_EQ(backend_strings(cold).size(), 2 * kTunedLayers.size());  // a record and its words each
    EXPECT_EQ(slurp(cache), cache_bytes) << "nothing new to write";

    // At the build shapes every layer replays its record, and both engines compute the same.
    const NamedTensors in = inputs(dt, 2, 11);
    const NamedTensors cold_out = run(cold, in);
    const Counts c3 = counts();
    EXPECT_EQ(c3.replayed - c2.replayed, kTunedLayers.size());
    EXPECT_EQ(c3.heuristic - c2.heuristic, 0u);
    const NamedTensors warm_out = run(warm, in);
    BUILD_OR_RETURN(ref_engine, dt, config_for("reference"));
    const NamedTensors ref = run(ref_engine, in);
    expect_close(cold_out, ref, tolerance_of(dt), "cold-cache engine");
    expect_close(warm_out, ref, tolerance_of(dt), "warm-cache engine");
    // Bit for bit, unless the chosen engines themselves are not deterministic (then within the
    // tolerance above): one engine run twice tells.
    if (same_bits(run(cold, in), cold_out)) {
      EXPECT_TRUE(same_bits(warm_out, cold_out)) << "the same records must compute the same bits";
    } else {
      std::printf("note: the chosen %s kernels are not deterministic run to run\n", dtype_name(dt));
    }
  }
}

// kiln's own kernel's tile shape: a packed fp16 attention with a key-padding mask is timed with
// 64- and 128-row tiles at the build shapes, the choice kept, replayed from a warm cache without
// timing, and the engine computes what the reference does.
std::unique_ptr<Graph> attention_graph() {
  constexpr int64_t kS = 128, kE = 128;
  auto g = test::new_graph(17);
  g->opset_imports[kKilnDomain] = 1;
  Value* qkv = test::input(*g, "qkv", DataType::kFloat16, SymShape{Dim::sym("N"), Dim::known(kS), Dim::known(3 * kE)});
  Value* mask = test::input(*g, "mask", DataType::kFloat16, SymShape{Dim::sym("N"), Dim::known(1), Dim::known(1), Dim::known(kS)});
  Value* y = g->add_value("y");
  Node* n = kiln_op(*g, "Attention", {qkv, nullptr, nullptr, mask}, y, "attention");
  n->attrs.set_int("num_heads", 2);
  n->attrs.set_int("qkv_packed", 1);
  g->add_output(y);
  return g;
}

BuilderConfig attention_config(const std::string& backend, const std::string& cache) {
  BuilderConfig c = config_for(backend, cache);
  c.profile = {{"qkv", {1, 128, 384}, {2, 128, 384}, {4, 128, 384}}, {"mask", {1, 1, 1, 128}, {2, 1, 1, 128}, {4, 1, 1, 128}}};
  return c;
}

TEST(CudaTuning, AttentionTilesAreTimedKeptAndReplayedFromTheCache) {
  KILN_REQUIRE_CUDA();
  TempDir dir;
  const std::string cache = dir.file("tc.json");
  const Counts c0 = counts();
  auto cold = test::build(attention_graph(), attention_config("cuda", cache));
  ASSERT_TRUE(cold.ok()) << cold.status().message();
  EXPECT_EQ(counts().timed - c0.timed, 1u) << "one problem: the opt shapes";
  const EngineInfo info = cold->info();
  auto it = std::find_if(info.layers.begin(), info.layers.end(), [](const LayerInfo& l) { return l.name == "attention"; });
  ASSERT_NE(it, info.layers.end());
  EXPECT_TRUE(contains(it->tuning, "at 2x128x384: ")) << it->tuning;
  EXPECT_TRUE(contains(it->tuning, "-row tiles")) << it->tuning;
  const auto cold_records = backend_strings(*cold);
  ASSERT_TRUE(cold_records.count("attention/attention_tiles")) << "no tile record";
  const std::string record = cold_records.at("attention/attention_tiles");
  EXPECT_TRUE(record.rfind("64 ", 0) == 0 || record.rfind("128 ", 0) == 0) << record;

  const size_t timed = counts().timed;
  auto warm = test::build(attention_graph(), attention_config("cuda", cache));
  ASSERT_TRUE(warm.ok()) << warm.status().message();
  EXPECT_EQ(counts().timed - timed, 0u) << "a warm cache must time nothing";
  EXPECT_EQ(backend_strings(*warm), cold_records);

  auto ref = test::build(attention_graph(), attention_config("reference", ""));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (int64_t batch : {2, 3}) {  // the tuned problem, and one the kernel picks tiles for itself
    SCOPED_TRACE("batch " + std::to_string(batch));
    Tensor mask = random_tensor(DataType::kFloat16, {batch, 1, 1, 128}, 40 + batch, -1, 0);
    for (int64_t j = 100; j < 128; ++j) {  // padding: the last keys hidden
      for (int64_t b = 0; b < batch; ++b) mask.data_as<Float16>()[b * 128 + j] = Float16(-INFINITY);
    }
    const NamedTensors in = {{"qkv", random_tensor(DataType::kFloat16, {batch, 128, 384}, 30 + batch, -1, 1)}, {"mask", mask}};
    NamedTensors outs[2];
    const Engine* engines[2] = {&*cold, &*ref};
    for (int e = 0; e < 2; ++e) {
      auto ctx = engines[e]->create_execution_context();
      ASSERT_TRUE(ctx.ok()) << ctx.status().message();
      outs[e]["y"] = poisoned(DataType::kFloat16, {batch, 128, 128});
      const Status s = (*ctx)->run(in, &outs[e]);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    expect_close(outs[0], outs[1], Tolerance{1e-2, 1e-2}, "tuned attention");
  }
}

TEST(CudaTuning, TunedAndUntunedEnginesAgree) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kTypes) {
    SCOPED_TRACE(dtype_name(dt));
    BUILD_OR_RETURN(tuned, dt, config_for("cuda"));
    const Counts c0 = counts();
    BUILD_OR_RETURN(untuned, dt, config_for("cuda", "", /*tune=*/false));
    EXPECT_EQ(counts().timed - c0.timed, 0u);
    EXPECT_TRUE(backend_strings(untuned).empty());
    for (const LayerInfo& l : untuned.info().layers) EXPECT_TRUE(l.tuning.empty()) << l.name;
    const NamedTensors in = inputs(dt, 2, 21);
    BUILD_OR_RETURN(ref_engine, dt, config_for("reference"));
    const NamedTensors want = run(ref_engine, in);
    const Counts c1 = counts();
    const NamedTensors untuned_out = run(untuned, in);
    EXPECT_EQ(counts().heuristic - c1.heuristic, kTunedLayers.size());
    const NamedTensors tuned_out = run(tuned, in);
    expect_close(untuned_out, want, tolerance_of(dt), "untuned engine");
    expect_close(tuned_out, want, tolerance_of(dt), "tuned engine");
    expect_close(tuned_out, untuned_out, tolerance_of(dt), "tuned vs untuned");
  }
}

TEST(CudaTuning, OtherShapesUseTheHeuristic) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kTypes) {
    SCOPED_TRACE(dtype_name(dt));
    BUILD_OR_RETURN(e, dt, config_for("cuda"));
    BUILD_OR_RETURN(ref, dt, config_for("reference"));
    for (int64_t batch : {3, 1, 4, 2}) {
      SCOPED_TRACE(batch);
      const NamedTensors in = inputs(dt, batch, 30 + static_cast<uint64_t>(batch));
      const Counts c0 = counts();
      const NamedTensors got = run(e, in);
      const Counts c1 = counts();
      // A fresh context, but the kernels (and their plans) are the engine's: each shape is
      // planned once, the build shape (2) by replaying the records.
      EXPECT_EQ(c1.heuristic - c0.heuristic, batch == 2 ? 0u : kTunedLayers.size());
      EXPECT_EQ(c1.replayed - c0.replayed, batch == 2 ? kTunedLayers.size() : 0u);
      expect_close(got, run(ref, in), tolerance_of(dt), "batch " + std::to_string(batch));
    }
  }
}

// float32 with TF32 allowed (the builder's default outside the tests): the layers compute in
// "tf32", and that is part of the problem tuned, cached and replayed.
TEST(CudaTuning, Tf32LayersTuneTheirOwnProblem) {
  KILN_REQUIRE_CUDA();
  const DataType dt = DataType::kFloat32;
  TempDir dir;
  BuilderConfig config = config_for("cuda", dir.file("tc.json"));
  config.allow_tf32 = true;
  BUILD_OR_RETURN(e, dt, config);
  for (const LayerInfo& l : e.info().layers) {
    if (std::find(kTunedLayers.begin(), kTunedLayers.end(), l.name) == kTunedLayers.end()) continue;
    EXPECT_EQ(l.precision, "tf32") << l.name;
    EXPECT_FALSE(l.tuning.empty()) << l.name;
  }
  const std::string cache = slurp(dir.file("tc.json"));
  EXPECT_TRUE(contains(cache, ",tf32")) << cache;    // the conv's problem key
  EXPECT_TRUE(contains(cache, ".tf32.")) << cache;  // the products'
  EXPECT_FALSE(contains(cache, ",notf32")) << cache;
  const NamedTensors in = inputs(dt, 2, 81);
  const Counts c0 = counts();
  const NamedTensors got = run(e, in);
  EXPECT_EQ(counts().replayed - c0.replayed, kTunedLayers.size());
  BUILD_OR_RETURN(ref, dt, config_for("reference"));
  // TF32 keeps 10 bits of each product's inputs: float16's tolerance.
  expect_close(got, run(ref, in), tolerance_of(DataType::kFloat16), "tf32 engine");
}

// The bytes of an engine file with its checksum made right again after an edit.
void fix_checksum(std::string& b) {
  constexpr size_t kPreamble = 80;
  const uint64_t sum = XXH3_64bits(b.data() + kPreamble, b.size() - kPreamble);
  std::memcpy(b.data() + 64, &sum, 8);
}

// Changes one hex digit of the check of every record starting with `magic`; returns how many.
size_t damage_records(std::string& bytes, const std::string& magic) {
  size_t n = 0;
  for (size_t at = bytes.find(magic); at != std::string::npos; at = bytes.find(magic, at + 1)) {
    const size_t check = bytes.find("check=", at);
    if (check == std::string::npos) break;
    char& digit = bytes[check + 6];
    digit = digit == '0' ? '1' : '0';
    ++n;
  }
  return n;
}

TEST(CudaTuning, DamagedRecordsFallBackToTheHeuristic) {
  KILN_REQUIRE_CUDA();
  const DataType dt = DataType::kFloat16;
  BUILD_OR_RETURN(e, dt, config_for("cuda"));
  auto bytes = e.serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  std::string b = *bytes;
  EXPECT_EQ(damage_records(b, "kiln-cudnn-conv/1 "), 1u);
  EXPECT_EQ(damage_records(b, "kiln-cublaslt-algo/1 "), 3u);
  fix_checksum(b);
  auto damaged = Engine::load_from_memory(b);
  ASSERT_TRUE(damaged.ok()) << damaged.status().message();
  const NamedTensors in = inputs(dt, 2, 41);
  const Counts c0 = counts();
  const NamedTensors got = run(*damaged, in);
  const Counts c1 = counts();
  EXPECT_EQ(c1.replayed - c0.replayed, 0u);
  EXPECT_EQ(c1.heuristic - c0.heuristic, kTunedLayers.size());
  BUILD_OR_RETURN(ref, dt, config_for("reference"));
  expect_close(got, run(ref, in), tolerance_of(dt), "damaged records");
}

TEST(CudaTuning, DamagedCacheEntriesAreTimedAgain) {
  KILN_REQUIRE_CUDA();
  const DataType dt = DataType::kFloat32;
  TempDir dir;
  const std::string cache = dir.file("tc.json");
  {
    BUILD_OR_RETURN(first, dt, config_for("cuda", cache));
    EXPECT_FALSE(first.info().layers.empty());
  }
  std::string text = slurp(cache);
  EXPECT_EQ(damage_records(text, "kiln-cudnn-conv/1 ") + damage_records(text, "kiln-cublaslt-algo/1 "), kTunedLayers.size());
  {
    std::ofstream f(cache, std::ios::binary | std::ios::trunc);
    f << text;
  }
  const Counts c0 = counts();
  BUILD_OR_RETURN(e, dt, config_for("cuda", cache));
  EXPECT_EQ(counts().timed - c0.timed, kTunedLayers.size());
  // The cache now holds good records again: a third build times nothing.
  const Counts c1 = counts();
  {
    BUILD_OR_RETURN(third, dt, config_for("cuda", cache));
    EXPECT_EQ(backend_strings(third), backend_strings(e));
  }
  EXPECT_EQ(counts().timed - c1.timed, 0u);
  const NamedTensors in = inputs(dt, 2, 51);
  BUILD_OR_RETURN(ref, dt, config_for("reference"));
  expect_close(run(e, in), run(ref, in), tolerance_of(dt), "after re-timing");
}

// The header's device signature replaced by `edit(signature)` (same length), checksum fixed.
std::string with_signature(const std::string& bytes, const std::function<void(std::string&)>& edit, std::string* before,
                           std::string* after) {
  uint64_t hoff = 0, hsize = 0;
  std::memcpy(&hoff, bytes.data() + 16, 8);
  std::memcpy(&hsize, bytes.data() + 24, 8);
  std::string header = bytes.substr(hoff, hsize);
  const std::string key = "\"device\":\"";
  const size_t at = header.find(key);
  EXPECT_NE(at, std::string::npos) << header;
  const size_t end = header.find('"', at + key.size());
  *before = header.substr(at + key.size(), end - at - key.size());
  *after = *before;
  edit(*after);
  EXPECT_EQ(after->size(), before->size());
  header.replace(at + key.size(), before->size(), *after);
  std::string b = bytes;
  b.replace(hoff, hsize, header);
  fix_checksum(b);
  return b;
}

TEST(CudaTuning, EnginesNameTheirGpuAndLibrariesAndRefuseOthers) {
  KILN_REQUIRE_CUDA();
  BUILD_OR_RETURN(e, DataType::kFloat16, config_for("cuda"));
  const std::string sig = e.info().device;
  EXPECT_TRUE(contains(sig, " sm_")) << sig;
  EXPECT_TRUE(contains(sig, ", driver ")) << sig;
  EXPECT_TRUE(contains(sig, ", CUDA runtime ")) << sig;
  EXPECT_TRUE(contains(sig, ", cuDNN 9.")) << sig;
  EXPECT_TRUE(contains(sig, ", cuBLASLt ")) << sig;
  auto bytes = e.serialize();
  ASSERT_TRUE(bytes.ok());
  std::string before, after;

  // Another cuDNN: refused, both signatures and the difference named.
  const std::string other_cudnn = with_signature(*bytes, [](std::string& s) {
    const size_t at = s.find("cuDNN 9.") + 6;
    s[at] = '8';
  }, &before, &after);
  auto r = Engine::load_from_memory(other_cudnn);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible);
  const std::string& msg = r.status().message();
  EXPECT_TRUE(contains(msg, "'" + after + "'")) << msg;
  EXPECT_TRUE(contains(msg, "'" + before + "'")) << msg;
  EXPECT_TRUE(contains(msg, "cuDNN 8.")) << msg;
  EXPECT_TRUE(contains(msg, "at build time")) << msg;
  EXPECT_TRUE(contains(msg, "rebuild the engine here")) << msg;

  // Another GPU model.
  auto other_gpu = Engine::load_from_memory(with_signature(*bytes, [](std::string& s) { s[0] = s[0] == 'X' ? 'Y' : 'X'; }, &before, &after));
  ASSERT_FALSE(other_gpu.ok());
  EXPECT_TRUE(contains(other_gpu.status().message(), "GPU " + after.substr(0, after.find(','))))
      << other_gpu.status().message();

  // Only the driver differs: the engine loads and runs.
  const std::string other_driver = with_signature(*bytes, [](std::string& s) {
    const size_t at = s.find(", driver ") + 9;
    s[at] = s[at] == '9' ? '8' : '9';
  }, &before, &after);
  auto loaded = Engine::load_from_memory(other_driver);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const NamedTensors in = inputs(DataType::kFloat16, 2, 61);
  BUILD_OR_RETURN(ref, DataType::kFloat16, config_for("reference"));
  expect_close(run(*loaded, in), run(ref, in), tolerance_of(DataType::kFloat16),
               "engine of another driver");
}

// --- several profiles: every profile's opt shapes are tuned and replayed ---------------------------

// Two profiles of the batch, the issue's: 1..4 (opt 1) and 32..64 (opt 64).
constexpr int64_t kSmallOpt = 1, kLargeOpt = 64;
BuilderConfig two_profile_config(const std::string& backend, const std::string& cache = "") {
  BuilderConfig c = config_for(backend, cache);
  c.profile.clear();
  c.profiles = {{{"x", {1, kHW, kHW, kC}, {kSmallOpt, kHW, kHW, kC}, {4, kHW, kHW, kC}}, {"a", {1, kA}, {kSmallOpt, kA}, {4, kA}}},
                {{"x", {32, kHW, kHW, kC}, {kLargeOpt, kHW, kHW, kC}, {64, kHW, kHW, kC}}, {"a", {32, kA}, {kLargeOpt, kA}, {64, kA}}}};
  return c;
}

// The dims each tuned layer's first input has at `batch`, as its words say them ("at 64x40: ...").
std::string first_input_at(const std::string& layer, int64_t batch) {
  if (layer == "conv") return fmt::format("at {}x{}x{}x{}: ", batch, kHW, kHW, kC);
  if (layer == "matmul") return fmt::format("at {}x{}x{}x{}: ", batch, kHW, kHW, kK);
  return fmt::format("at {}x{}: ", batch, kA);
}

TEST(CudaTuning, EveryProfileIsTunedAndReplayedAtItsOptShapes) {
  KILN_REQUIRE_CUDA();
  for (DataType dt : kTypes) {
    SCOPED_TRACE(dtype_name(dt));
    TempDir dir;
    const std::string cache = dir.file("tc.json");
    const Counts c0 = counts();
    BUILD_OR_RETURN(cold, dt, two_profile_config("cuda", cache));
    const Counts c1 = counts();
    // Two distinct problems per layer: one per profile.
    EXPECT_EQ(c1.timed - c0.timed, 2 * kTunedLayers.size());
    const EngineInfo info = cold.info();
    for (const std::string& name : kTunedLayers) {
      auto it = std::find_if(info.layers.begin(), info.layers.end(), [&](const LayerInfo& l) { return l.name == name; });
      ASSERT_NE(it, info.layers.end()) << name;
      // Both choices, in profile order, each saying its shape.
      const std::string small = first_input_at(name, kSmallOpt), large = first_input_at(name, kLargeOpt);
      EXPECT_EQ(it->tuning.rfind(small, 0), 0u) << name << ": " << it->tuning;
      EXPECT_TRUE(contains(it->tuning, "; " + large)) << name << ": " << it->tuning;
    }
    auto file = TimingCache::open(cache);
    ASSERT_TRUE(file.ok()) << file.status().message();
    EXPECT_EQ(file->size(), 2 * kTunedLayers.size()) << slurp(cache);

    // A warm rebuild times nothing and keeps the same records.
    BUILD_OR_RETURN(warm, dt, two_profile_config("cuda", cache));
    const Counts c2 = counts();
    EXPECT_EQ(c2.timed - c1.timed, 0u) << "a warm cache must time nothing";
    EXPECT_EQ(backend_strings(warm), backend_strings(cold));

    // At each profile's opt shapes every layer replays a tuned record; between them (batch 3, in
    // the first profile) the heuristic plans.
    BUILD_OR_RETURN(ref, dt, two_profile_config("reference"));
    for (int64_t batch : {kLargeOpt, kSmallOpt, int64_t{3}}) {
      SCOPED_TRACE(batch);
      const NamedTensors in = inputs(dt, batch, 90 + static_cast<uint64_t>(batch));
      const Counts before = counts();
      const NamedTensors got = run(cold, in);
      const Counts after = counts();
      const bool tuned = batch == kSmallOpt || batch == kLargeOpt;
      EXPECT_EQ(after.replayed - before.replayed, tuned ? kTunedLayers.size() : 0u);
      EXPECT_EQ(after.heuristic - before.heuristic, tuned ? 0u : kTunedLayers.size());
      const NamedTensors want = run(ref, in);
      expect_close(got, want, tolerance_of(dt), "cold engine");
      expect_close(run(warm, in), want, tolerance_of(dt), "warm engine");
    }

    // The records survive the engine file: a loaded engine replays them at both opt shapes.
    auto bytes = cold.serialize();
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto loaded = Engine::load_from_memory(*bytes);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    for (int64_t batch : {kSmallOpt, kLargeOpt}) {
      const NamedTensors in = inputs(dt, batch, 95 + static_cast<uint64_t>(batch));
      const Counts before = counts();
      const NamedTensors got = run(*loaded, in);
      EXPECT_EQ(counts().replayed - before.replayed, kTunedLayers.size()) << "batch " << batch;
      EXPECT_EQ(counts().heuristic - before.heuristic, 0u) << "batch " << batch;
      expect_close(got, run(ref, in), tolerance_of(dt), "loaded engine at batch " + std::to_string(batch));
    }
  }
}

// Profiles whose opt shapes agree are tuned once: one problem per layer.
TEST(CudaTuning, ProfilesWithTheSameOptShapesAreTunedOnce) {
  KILN_REQUIRE_CUDA();
  const DataType dt = DataType::kFloat16;
  BuilderConfig config = two_profile_config("cuda");
  config.profiles[1] = {{"x", {1, kHW, kHW, kC}, {kSmallOpt, kHW, kHW, kC}, {8, kHW, kHW, kC}}, {"a", {1, kA}, {kSmallOpt, kA}, {8, kA}}};
  const Counts c0 = counts();
  BUILD_OR_RETURN(e, dt, config);
  EXPECT_EQ(counts().timed - c0.timed, kTunedLayers.size());
  for (const LayerInfo& l : e.info().layers) {
    if (std::find(kTunedLayers.begin(), kTunedLayers.end(), l.name) == kTunedLayers.end()) continue;
    EXPECT_FALSE(contains(l.tuning, "; ")) << l.name << ": " << l.tuning;
  }
}

// An engine from before several profiles were tuned: one record per layer, a string under the
// singular key. Rewritten that way from a new engine's records, it loads and replays them.
TEST(CudaTuning, AnEngineWithOneOldStyleRecordPerLayerStillReplaysIt) {
  KILN_REQUIRE_CUDA();
  const DataType dt = DataType::kFloat16;
  BUILD_OR_RETURN(e, dt, config_for("cuda"));
  size_t rewritten = 0;
  for (const auto& n : e.state()->graph->nodes()) {
    for (const auto& [list_key, old_key] : {std::pair<std::string, std::string>{"cublaslt_algos", "cublaslt_algo"}, {"cudnn_plans", "cudnn_plan"}}) {
      const Attribute* a = n->backend_data.find(list_key);
      if (!a) continue;
      ASSERT_EQ(a->kind, Attribute::Kind::kStrings) << n->name;
      ASSERT_EQ(a->strings.size(), 1u) << n->name;
      const std::string line = a->strings[0];
      n->backend_data.erase(list_key);
      n->backend_data.set_string(old_key, line);
      ++rewritten;
    }
  }
  ASSERT_EQ(rewritten, kTunedLayers.size());
  auto state = make_engine_state(e.state()->graph, e.state()->meta, nullptr);
  ASSERT_TRUE(state.ok()) << state.status().message();
  auto bytes = Engine(*state).serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_FALSE(contains(*bytes, "cublaslt_algos"));
  auto old = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(old.ok()) << old.status().message();
  const NamedTensors in = inputs(dt, 2, 97);
  const Counts c0 = counts();
  const NamedTensors got = run(*old, in);
  const Counts c1 = counts();
  EXPECT_EQ(c1.replayed - c0.replayed, kTunedLayers.size());
  EXPECT_EQ(c1.heuristic - c0.heuristic, 0u);
  BUILD_OR_RETURN(ref, dt, config_for("reference"));
  expect_close(got, run(ref, in), tolerance_of(dt), "old-style records");
}

}  // namespace
}  // namespace kiln
