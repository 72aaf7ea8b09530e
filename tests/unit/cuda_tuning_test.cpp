// Build-time tuning on the cuda backend (ops/tuning.h): the FusedConv, MatMul, Gemm and
// FusedMatMul entries' pack times cuDNN's and cuBLASLt's candidates at the build shapes (or
// replays the timing cache's choice) and keeps the record in the engine; a run at the build shapes
// replays it, other shapes and damaged records get the heuristic. And the engine's device
// signature: the GPU and libraries it records, and the sentence that refuses another.
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
#include "backends/cuda/ops/tuning.h"
#include "backends/timing_cache.h"
#include "core/float16.h"
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

// Every string a node keeps in backend_data, by "layer/key".
std::map<std::string, std::string> backend_strings(const Engine& e) {
  std::map<std::string, std::string> out;
  for (const auto& n : e.state()->graph->nodes()) {
    for (const auto& [key, a] : n->backend_data.all()) {
      if (a.kind == Attribute::Kind::kString) out[n->name + "/" + key] = a.s;
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

}  // namespace
}  // namespace kiln
