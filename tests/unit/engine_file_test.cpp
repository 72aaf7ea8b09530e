// The engine file: serialize / load round trips give bit-identical results; files for another
// format version or device are refused with a sentence that says which; `kiln run` on a .onnx
// and on the .kiln built from it write identical outputs.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "backends/backend.h"
#include "engine/engine_file.h"
#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using test::contains;

constexpr size_t kPreamble = 80;

// A fresh directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("kiln_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
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

Engine build_mlp(bool symbolic = false) {
  BuilderConfig cfg = test::quiet_config();
  auto e = Builder(cfg).build_from_bytes(test::mlp_model(symbolic).SerializeAsString(), "mlp.onnx");
  if (!e.ok()) {
    ADD_FAILURE() << e.status().message();
    std::abort();
  }
  return *e;
}

NamedTensors run(const Engine& e, const NamedTensors& in) {
  auto ctx = e.create_execution_context();
  EXPECT_TRUE(ctx.ok());
  NamedTensors out;
  Status s = (*ctx)->run(in, &out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

NamedTensors mlp_input() {
  return {{"x", test::f32({2, 4}, {0.3f, -1.2f, 2.5f, 0.7f, -0.1f, 1.9f, -2.2f, 0.05f})}};
}

void expect_same_outputs(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(test::same_bits(t, b.at(name))) << name << ": " << t.describe() << " vs " << b.at(name).describe();
  }
}

TEST(EngineFile, SerializeLoadRunsBitIdentical) {
  Engine e = build_mlp();
  auto bytes = e.serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  ASSERT_GT(bytes->size(), kPreamble);
  EXPECT_EQ(bytes->substr(0, 8), std::string("KILNENG\0", 8));
  auto loaded = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const NamedTensors in = mlp_input();
  const NamedTensors want = run(e, in);
  expect_same_outputs(want, run(*loaded, in));
  // The results are right too, not just equal: y = sigmoid(relu(x W + b)), first element.
  const float xw0 = 0.3f * 0.5f + -1.2f * 0.25f + 2.5f * -2 + 0.7f * 3 + 0.1f;
  EXPECT_NEAR(want.at("y").data_as<float>()[0], 1 / (1 + std::exp(-std::max(xw0, 0.0f))), 1e-6);

  EXPECT_EQ(loaded->info().backend, "reference");
  EXPECT_EQ(loaded->info().source_name, "mlp.onnx");
  EXPECT_EQ(loaded->inputs()[0].name, "x");
  EXPECT_EQ(loaded->outputs()[0].dims, (Dims{2, 3}));
  // A loaded engine serializes to the same bytes.
  auto again = loaded->serialize();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(EngineFile, SaveAndLoadFile) {
  TempDir dir;
  Engine e = build_mlp(/*symbolic=*/true);
  const std::string path = dir.file("mlp.kiln");
  ASSERT_TRUE(e.save(path).ok());
  auto loaded = Engine::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->inputs()[0].symbols, (std::vector<std::string>{"N", ""}));
  NamedTensors in{{"x", test::f32({5, 4}, {0.5f, -0.25f, 1, 2, -3})}};
  expect_same_outputs(run(e, in), run(*loaded, in));

  auto missing = Engine::load(dir.file("nope.kiln"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(missing.status().message(), "nope.kiln"));
}

uint64_t read_u64(const std::string& b, size_t off) {
  uint64_t v;
  std::memcpy(&v, b.data() + off, 8);
  return v;
}

void fix_checksum(std::string& b) {
  const uint64_t sum = XXH3_64bits(b.data() + kPreamble, b.size() - kPreamble);
  std::memcpy(b.data() + 64, &sum, 8);
}

TEST(EngineFile, OtherFormatVersionRefused) {
  auto bytes = build_mlp().serialize();
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  const uint32_t other = kEngineFormatVersion + 1;
  std::memcpy(b.data() + 8, &other, 4);
  fix_checksum(b);
  auto r = Engine::load_from_memory(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible);
  const std::string& msg = r.status().message();
  EXPECT_TRUE(contains(msg, "version " + std::to_string(other))) << msg;
  EXPECT_TRUE(contains(msg, "version " + std::to_string(kEngineFormatVersion))) << msg;
}

TEST(EngineFile, EngineWithOnlyTheOneProfileKeyLoads) {
  // Engines written before several profiles carry only "profile": one profile. Hiding the
  // "profiles" key (same length, so no offset moves) gives such a header.
  BuilderConfig cfg = test::quiet_config();
  cfg.profiles = {{{"x", {1, 4}, {2, 4}, {4, 4}}}, {{"x", {16, 4}, {16, 4}, {32, 4}}}};
  auto e = Builder(cfg).build_from_bytes(test::mlp_model(true).SerializeAsString(), "mlp.onnx");
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto bytes = e->serialize();
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  const uint64_t hoff = read_u64(b, 16), hsize = read_u64(b, 24);
  std::string header = b.substr(hoff, hsize);
  const size_t at = header.find("\"profiles\":");
  ASSERT_NE(at, std::string::npos) << header;
  header.replace(at, 11, "\"xrofiles\":");
  b.replace(hoff, hsize, header);
  fix_checksum(b);
  auto old = Engine::load_from_memory(b);
  ASSERT_TRUE(old.ok()) << old.status().message();
  ASSERT_EQ(old->info().profiles.size(), 1u);
  EXPECT_EQ(old->info().profiles[0][0].max, (Dims{4, 4}));
  auto ctx = old->create_execution_context();
  ASSERT_TRUE(ctx.ok());
  NamedTensors out;
  EXPECT_TRUE((*ctx)->run({{"x", test::f32({4, 4}, {1})}}, &out).ok());
  Status s = (*ctx)->run({{"x", test::f32({16, 4}, {1})}}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "outside the engine's profile 1x4 .. 4x4")) << s.message();

  auto full = Engine::load_from_memory(*bytes);
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(full->info().profiles.size(), 2u);
}

TEST(EngineFile, OtherDeviceRefused) {
  auto bytes = build_mlp().serialize();
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  const uint64_t hoff = read_u64(b, 16), hsize = read_u64(b, 24);
  std::string header = b.substr(hoff, hsize);
  const std::string device = find_backend("reference")->device_signature();
  const std::string key = "\"device\":\"" + device + "\"";
  const size_t at = header.find(key);
  ASSERT_NE(at, std::string::npos) << header;
  // Same length, so no offset moves: only the signature and the checksum change.
  std::string other = device;
  other[0] = other[0] == 'Z' ? 'Y' : 'Z';
  header.replace(at, key.size(), "\"device\":\"" + other + "\"");
  b.replace(hoff, hsize, header);
  fix_checksum(b);
  auto r = Engine::load_from_memory(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncompatible) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "'" + other + "'")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "'" + device + "'")) << r.status().message();

  // Without the checksum fixed, the same edit is damage.
  std::string damaged = *bytes;
  damaged[hoff + at + key.size() - 2] ^= 1;
  EXPECT_EQ(Engine::load_from_memory(damaged).status().code(), StatusCode::kCorrupt);
}

TEST(EngineFile, TruncatedAndForeignFilesRefused) {
  auto bytes = build_mlp().serialize();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(Engine::load_from_memory(bytes->substr(0, 40)).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(Engine::load_from_memory(bytes->substr(0, bytes->size() - 1)).status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(Engine::load_from_memory(std::string(200, 'x')).ok());
}

// --- the command line --------------------------------------------------------------------------

#if defined(KILN_CLI_PATH) && defined(KILN_SOURCE_DIR)

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int sh(const std::string& cmd, const std::string& log) { return std::system((cmd + " >" + log + " 2>&1").c_str()); }

void cli_onnx_vs_kiln(const std::string& rel_model) {
  const std::string model = std::string(KILN_SOURCE_DIR) + "/" + rel_model;
  ASSERT_TRUE(fs::exists(model)) << model << " is missing (scripts/setup.sh lays out conformance-data)";
  TempDir dir;
  const std::string kiln = KILN_CLI_PATH;
  const std::string log = dir.file("log.txt");
  ASSERT_EQ(sh("'" + kiln + "' run '" + model + "' --output-dir '" + dir.file("from_onnx") + "'", log), 0) << slurp(log);
  ASSERT_EQ(sh("'" + kiln + "' build '" + model + "' -o '" + dir.file("m.kiln") + "'", log), 0) << slurp(log);
  ASSERT_EQ(sh("'" + kiln + "' run '" + dir.file("m.kiln") + "' --output-dir '" + dir.file("from_kiln") + "'", log), 0)
      << slurp(log);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.file("from_onnx"))) {
    const std::string other = dir.file("from_kiln") + "/" + entry.path().filename().string();
    ASSERT_TRUE(fs::exists(other)) << other;
    const std::string a = slurp(entry.path().string()), b = slurp(other);
    EXPECT_GT(a.size(), 64u);
    EXPECT_TRUE(a == b) << entry.path().filename() << " differs between the .onnx and the .kiln run";
    ++files;
  }
  EXPECT_GE(files, 1u);
}

TEST(Cli, RunOnnxAndKilnBitIdenticalSqueezenet) { cli_onnx_vs_kiln("conformance-data/light/test_squeezenet/model.onnx"); }
TEST(Cli, RunOnnxAndKilnBitIdenticalNodeTest) {
  cli_onnx_vs_kiln("conformance-data/node/test_conv_with_strides_padding/model.onnx");
}

#else
TEST(Cli, RunOnnxAndKilnBitIdentical) { FAIL() << "KILN_CLI_PATH / KILN_SOURCE_DIR not defined by tests/CMakeLists.txt"; }
#endif

}  // namespace
}  // namespace kiln
