// The timing cache on its own (backends/timing_cache.h), and the builder's handling of the file
// (BuilderConfig::timing_cache), on the cpu and reference backends: nothing here needs a GPU. The
// cuda backend's use of it (tuning, replay) is in cuda_tuning_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "backends/timing_cache.h"
#include "unit/onnx_models.h"
#include "unit/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using test::contains;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("kiln_tc_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // The names in the directory (to see that no temporary is left behind).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

const std::string kH200Cudnn = "NVIDIA H200 sm_90 cuDNN 9.14.0";
const std::string kH100Cudnn = "NVIDIA H100 80GB HBM3 sm_90 cuDNN 9.14.0";
const std::string kH200OtherCudnn = "NVIDIA H200 sm_90 cuDNN 9.19.0";
const std::string kConv = "conv nhwc float16,n2,c64,h14,w14,k64,r3,s3,g1,st1x1,dl1x1,pb1x1,pe1x1,bias,act=Relu(0;0)";
const std::string kConvOther = "conv nhwc float16,n4,c64,h14,w14,k64,r3,s3,g1,st1x1,dl1x1,pb1x1,pe1x1,bias,act=Relu(0;0)";

TEST(TimingCache, RoundTripThroughItsFile) {
  TempDir dir;
  const std::string path = dir.file("tc.json");
  auto cache = TimingCache::open(path);
  ASSERT_TRUE(cache.ok()) << cache.status().message();
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_FALSE(fs::exists(path));  // made by save(), not by open()
  cache->put(kH200Cudnn, kConv, {"kiln-cudnn-conv/1 engine=7 (a record)", 0.03125});
  cache->put(kH200Cudnn, kConvOther, {"record two", 1.5});
  cache->put(kH100Cudnn, kConv, {"record of another GPU", 0.25});
  ASSERT_TRUE(cache->save().ok());
  // Written through a temporary that is gone afterwards.
  EXPECT_EQ(dir.names(), std::vector<std::string>{"tc.json"});
  const std::string first = slurp(path);
  EXPECT_EQ(first, cache->serialize());

  auto again = TimingCache::open(path);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->size(), 3u);
  const TimingCache::Entry* e = again->find(kH200Cudnn, kConv);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->record, "kiln-cudnn-conv/1 engine=7 (a record)");
  EXPECT_EQ(e->ms, 0.03125);
  ASSERT_NE(again->find(kH100Cudnn, kConv), nullptr);
  EXPECT_EQ(again->find(kH100Cudnn, kConv)->record, "record of another GPU");
  EXPECT_EQ(again->find(kH200Cudnn, kConvOther)->ms, 1.5);
  // The same entries give the same bytes, whatever order they were put in.
  TimingCache reordered;
  reordered.put(kH100Cudnn, kConv, {"record of another GPU", 0.25});
  reordered.put(kH200Cudnn, kConvOther, {"record two", 1.5});
  reordered.put(kH200Cudnn, kConv, {"kiln-cudnn-conv/1 engine=7 (a record)", 0.03125});
  EXPECT_EQ(reordered.serialize(), first);
}

TEST(TimingCache, LookupsMatchDeviceAndProblemExactly) {
  TimingCache cache;
  cache.put(kH200Cudnn, kConv, {"r", 1});
  EXPECT_NE(cache.find(kH200Cudnn, kConv), nullptr);
  EXPECT_EQ(cache.find(kH100Cudnn, kConv), nullptr);       // another GPU
  EXPECT_EQ(cache.find(kH200OtherCudnn, kConv), nullptr);  // another cuDNN
  EXPECT_EQ(cache.find(kH200Cudnn, kConvOther), nullptr);  // another problem
  EXPECT_EQ(cache.find(kH200Cudnn, kConv + " "), nullptr);
  cache.put(kH200Cudnn, kConv, {"replaced", 2});
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(kH200Cudnn, kConv)->record, "replaced");
  // Without a path nothing is written.
  EXPECT_TRUE(cache.save().ok());
  EXPECT_TRUE(cache.path().empty());
}

TEST(TimingCache, EntriesOfOtherDevicesSurviveASave) {
  TempDir dir;
  const std::string path = dir.file("tc.json");
  {
    auto c = TimingCache::open(path);
    ASSERT_TRUE(c.ok());
    c->put(kH100Cudnn, kConv, {"h100's", 0.5});
    ASSERT_TRUE(c->save().ok());
  }
  auto c = TimingCache::open(path);
  ASSERT_TRUE(c.ok());
  c->put(kH200Cudnn, kConv, {"h200's", 0.25});
  ASSERT_TRUE(c->save().ok());
  auto after = TimingCache::open(path);
  ASSERT_TRUE(after.ok());
  ASSERT_NE(after->find(kH100Cudnn, kConv), nullptr);
  EXPECT_EQ(after->find(kH100Cudnn, kConv)->record, "h100's");
  EXPECT_EQ(after->find(kH200Cudnn, kConv)->record, "h200's");
}

TEST(TimingCache, AnEmptyFileIsAnEmptyCache) {
  TempDir dir;
  const std::string path = dir.file("made_by_mktemp");
  write(path, "");
  auto c = TimingCache::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->size(), 0u);
  ASSERT_TRUE(c->save().ok());
  auto again = TimingCache::open(path);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << slurp(path);
  EXPECT_EQ(again->size(), 0u);
}

TEST(TimingCache, FilesThatAreNotACacheAreErrorsNamingTheFileAndAreLeftAlone) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not_json", "this is not JSON {"},
      {"a_model", std::string("\x08\x07\x12\x04kiln", 9)},
      {"a_list", "[1, 2, 3]"},
      {"no_format", R"({"entries": []})"},
      {"other_format", R"({"format": "kiln-timing-cache/99", "entries": []})"},
      {"entries_not_a_list", R"({"format": "kiln-timing-cache/1", "entries": {}})"},
      {"entry_without_ms", R"({"format": "kiln-timing-cache/1", "entries": [{"device": "d", "problem": "p", "record": "r"}]})"},
      {"entry_record_a_number", R"({"format": "kiln-timing-cache/1", "entries": [{"device": "d", "problem": "p", "record": 7, "ms": 1}]})"},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    const std::string path = dir.file(name);
    write(path, text);
    auto c = TimingCache::open(path);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kCorrupt) << c.status().message();
    EXPECT_TRUE(contains(c.status().message(), "timing cache '" + path + "'")) << c.status().message();
    EXPECT_TRUE(contains(c.status().message(), "delete it")) << c.status().message();
    EXPECT_EQ(slurp(path), text);
  }
  // The format's own name is said when it is another.
  auto c = TimingCache::open(dir.file("other_format"));
  EXPECT_TRUE(contains(c.status().message(), "kiln-timing-cache/99")) << c.status().message();
  EXPECT_TRUE(contains(c.status().message(), "kiln-timing-cache/1")) << c.status().message();
}

TEST(TimingCache, ADirectoryIsRefused) {
  TempDir dir;
  auto c = TimingCache::open(dir.path().string());
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(contains(c.status().message(), "not a regular file")) << c.status().message();
}

TEST(TimingCache, AnUnwritableDirectoryIsFoundAtOpen) {
  if (::geteuid() == 0) GTEST_SKIP() << "skipped: root may write anywhere, so the refusal cannot happen";
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  auto c = TimingCache::open(dir.file("tc.json"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIoError);
  EXPECT_TRUE(contains(c.status().message(), "cannot write timing cache")) << c.status().message();
}

// --- the builder ---------------------------------------------------------------------------------

Result<Engine> build_mlp_with_cache(const std::string& backend, const std::string& cache) {
  BuilderConfig cfg = test::quiet_config();
  cfg.backend = backend;
  cfg.timing_cache = cache;
  return Builder(cfg).build_from_bytes(test::mlp_model(false).SerializeAsString(), "mlp.onnx");
}

TEST(TimingCache, TheBuilderCreatesAMissingCache) {
  TempDir dir;
  const std::string path = dir.file("tc.json");
  // The cpu backend tunes nothing: the cache is still made, empty, so the flag visibly worked.
  auto e = build_mlp_with_cache("cpu", path);
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_TRUE(fs::exists(path));
  auto c = TimingCache::open(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->size(), 0u);
  // No layer says it was tuned.
  for (const LayerInfo& l : e->info().layers) EXPECT_TRUE(l.tuning.empty()) << l.name << ": " << l.tuning;
}

TEST(TimingCache, TheBuilderRefusesACorruptCacheAndLeavesItAlone) {
  TempDir dir;
  const std::string path = dir.file("tc.json");
  write(path, "{\"format\": \"kiln-timing-cache/1\", \"entries\": [");
  auto e = build_mlp_with_cache("reference", path);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kCorrupt) << e.status().message();
  EXPECT_TRUE(contains(e.status().message(), path)) << e.status().message();
  EXPECT_EQ(slurp(path), "{\"format\": \"kiln-timing-cache/1\", \"entries\": [");
}

TEST(TimingCache, TheBuilderKeepsEntriesItDidNotUse) {
  TempDir dir;
  const std::string path = dir.file("tc.json");
  {
    auto c = TimingCache::open(path);
    ASSERT_TRUE(c.ok());
    c->put(kH100Cudnn, kConv, {"kept", 0.5});
    ASSERT_TRUE(c->save().ok());
  }
  const std::string before = slurp(path);
  auto e = build_mlp_with_cache("cpu", path);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(slurp(path), before);
}

}  // namespace
}  // namespace kiln
