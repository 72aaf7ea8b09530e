// The `kiln` command line on malformed input and bad flags: every case must exit with status
// exactly 1 (never a signal, never a sanitizer's abort), print exactly one line on stderr that
// starts "kiln: error:", and write nothing: no engine at -o (an existing file there is left as it
// was, and no temporary beside it), no output directory for `run`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "core/npy.h"
#include "kiln/kiln.h"
#include "nlohmann/json.hpp"
#include "unit/onnx_models.h"

extern char** environ;

namespace kiln {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = KILN_SOURCE_DIR;
const char* const kCli = KILN_CLI_PATH;

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const fs::path& p, const std::string& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

struct Outcome {
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  std::string out, err;
};

// Runs the CLI with `args` in `cwd`, stdout and stderr to files. A sanitizer report would exit 1
// by default, which this test could mistake for a clean error: give sanitizers their own codes.
// `env` entries ("NAME=value") replace the variable of that name in the child's environment.
Outcome run_cli(const std::vector<std::string>& args, const fs::path& cwd, const std::vector<std::string>& env = {}) {
  auto overridden = [&env](const std::string& kv) {
    return std::any_of(env.begin(), env.end(), [&kv](const std::string& e) {
      return kv.compare(0, e.find('=') + 1, e, 0, e.find('=') + 1) == 0;
    });
  };
  std::vector<std::string> env_strings = env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (kv.rfind("ASAN_OPTIONS=", 0) == 0 || kv.rfind("UBSAN_OPTIONS=", 0) == 0 || overridden(kv)) continue;
    env_strings.push_back(kv);
  }
  auto with = [](const char* name, const std::string& extra) {
    const char* v = std::getenv(name);
    return std::string(name) + "=" + (v && *v ? std::string(v) + ":" : "") + extra;
  };
  env_strings.push_back(with("ASAN_OPTIONS", "exitcode=86"));
  env_strings.push_back(with("UBSAN_OPTIONS", "exitcode=87:halt_on_error=1"));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_s = {kCli};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  const fs::path out_path = cwd / ".cli_stdout", err_path = cwd / ".cli_stderr";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  // The child runs in `cwd` so a stray default output (kiln_outputs/) would land where we look.
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, kCli, &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  Outcome o;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << kCli << ": " << std::strerror(rc);
    return o;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  o.exited = WIFEXITED(status);
  o.exit_code = o.exited ? WEXITSTATUS(status) : -1;
  o.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  o.out = read_bytes(out_path);
  o.err = read_bytes(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return o;
}

class CliMalformed : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("kiln-cli-malformed-" + std::to_string(rd()) + "-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // The corpus: a good model and engine, and damaged ones derived from them.
    const std::string add = read_bytes(kSourceDir / "conformance-data/node/test_add/model.onnx");
    ASSERT_FALSE(add.empty());
    write_bytes(dir_ / "model.onnx", add);
    BuilderConfig config;
    config.backend = "reference";
    config.show_progress = false;
    auto engine = Builder(config).build_from_bytes(add, "model.onnx");
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    ASSERT_TRUE(engine->save((dir_ / "model.kiln").string()).ok());
    const std::string kiln = read_bytes(dir_ / "model.kiln");
    const std::string squeeze = read_bytes(kSourceDir / "conformance-data/light/test_squeezenet/model.onnx");
    write_bytes(dir_ / "truncated.onnx", add.substr(0, add.size() / 2));
    write_bytes(dir_ / "squeeze_truncated.onnx", squeeze.substr(0, squeeze.size() * 2 / 3));
    // A bit flip that damages the model (many flips leave a valid one: a weight, a name): the
    // first of a fixed sequence of bit positions whose flip the library refuses as corrupt.
    std::string flipped_onnx;
    for (size_t i = 1; i < 1000 && flipped_onnx.empty(); ++i) {
      std::string b = squeeze;
      const size_t bit = (i * 7919) % (b.size() * 8);
      b[bit / 8] = static_cast<char>(b[bit / 8] ^ (1 << (bit % 8)));
      auto e = Builder(config).build_from_bytes(b, "squeeze.onnx");
      if (!e.ok() && e.status().code() == StatusCode::kCorrupt) flipped_onnx = b;
    }
    ASSERT_FALSE(flipped_onnx.empty());
    write_bytes(dir_ / "squeeze_flipped.onnx", flipped_onnx);
    write_bytes(dir_ / "empty.onnx", "");
    write_bytes(dir_ / "garbage.onnx", std::string("\xff\xff\xff\xff\x0f garbage that is not a protobuf", 36));
    write_bytes(dir_ / "truncated.kiln", kiln.substr(0, kiln.size() - 7));
    write_bytes(dir_ / "short.kiln", kiln.substr(0, 40));
    std::string bad = kiln;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x10);
    write_bytes(dir_ / "bad.kiln", bad);
    std::string v99 = kiln;
    const uint32_t version = 99;  // a format from the future
    std::memcpy(v99.data() + 8, &version, 4);
    write_bytes(dir_ / "v99.kiln", v99);
    std::string bad_magic = kiln;
    bad_magic[0] = 'X';
    write_bytes(dir_ / "bad_magic.kiln", bad_magic);
    ASSERT_TRUE(write_npy((dir_ / "good.npy").string(), *Tensor::allocate(DataType::kFloat32, {3, 4, 5})).ok());
    ASSERT_TRUE(write_npy((dir_ / "wrong_shape.npy").string(), *Tensor::allocate(DataType::kFloat32, {3, 4, 6})).ok());
    ASSERT_TRUE(write_npy((dir_ / "wrong_rank.npy").string(), *Tensor::allocate(DataType::kFloat32, {60})).ok());
    ASSERT_TRUE(write_npy((dir_ / "wrong_dtype.npy").string(), *Tensor::allocate(DataType::kInt64, {3, 4, 5})).ok());
    const std::string npy = read_bytes(dir_ / "good.npy");
    write_bytes(dir_ / "truncated.npy", npy.substr(0, npy.size() - 9));
    write_bytes(dir_ / "garbage.npy", "\x93NUMPY\x01\x00\xff\xff{'descr': nonsense");
    write_bytes(dir_ / "existing.kiln", "precious bytes");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs one case and checks the contract. `output` is the path the command would write (an -o
  // file or an --output-dir); `preexisting` says it exists before and must be left unchanged.
  // `env` as for run_cli.
  void expect_clean_failure(const std::vector<std::string>& args, const std::string& output = "",
                            bool preexisting = false, const std::vector<std::string>& env = {}) {
    std::string cmd = "kiln";
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE(cmd);
    const std::string before = preexisting ? read_bytes(dir_ / output) : "";
    const Outcome o = run_cli(args, dir_, env);
    last_error_ = o.err;
    EXPECT_TRUE(o.exited) << "killed by signal " << o.signal << "; stderr: " << o.err;
    EXPECT_EQ(o.exit_code, 1) << "stderr: " << o.err;
    ASSERT_FALSE(o.err.empty());
    EXPECT_EQ(o.err.rfind("kiln: error:", 0), 0u) << o.err;
    EXPECT_EQ(o.err.back(), '\n') << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    if (!output.empty()) {
      if (preexisting) EXPECT_EQ(read_bytes(dir_ / output), before) << output << " was changed";
      else EXPECT_FALSE(fs::exists(dir_ / output)) << output << " was created";
      EXPECT_FALSE(fs::exists(dir_ / (output + ".tmp"))) << output << ".tmp was left behind";
    }
    EXPECT_FALSE(fs::exists(dir_ / "kiln_outputs")) << "the default output directory was created";
    ++cases_;
  }

  fs::path dir_;
  int cases_ = 0;
  std::string last_error_;  // stderr of the last expect_clean_failure
};

TEST_F(CliMalformed, BuildFailuresWriteNothing) {
  expect_clean_failure({"build", "missing.onnx", "-o", "out.kiln"}, "out.kiln");
  expect_clean_failure({"build", "truncated.onnx", "-o", "out.kiln"}, "out.kiln");
  expect_clean_failure({"build", "truncated.onnx", "-o", "existing.kiln"}, "existing.kiln", true);
  expect_clean_failure({"build", "squeeze_truncated.onnx", "-o", "out.kiln"}, "out.kiln");
  expect_clean_failure({"build", "empty.onnx", "-o", "out.kiln"}, "out.kiln");
  expect_clean_failure({"build", "garbage.onnx", "-o", "existing.kiln"}, "existing.kiln", true);
  expect_clean_failure({"build", ".", "-o", "out.kiln"}, "out.kiln");  // a directory
  expect_clean_failure({"build", "model.kiln", "-o", "out.kiln"}, "out.kiln");  // an engine, not ONNX
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--opt-level", "9"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--opt-level", "two"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--min-shapes", "x:1xq"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--max-shapes", "x"}, "out.kiln");
  // --shape-profile: malformed specs, a rank mismatch, an input the model does not have.
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--shape-profile", "x:3x4x5:3x4x5"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("'x:3x4x5:3x4x5' is not NAME:MIN:OPT:MAX") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--shape-profile", "x:3x4x5:3xq:3x4x5"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("bad shape '3xq'") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--shape-profile", "x:3x4x5:3x4x5:3x4"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("same rank") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--shape-profile", "x:3x4:3x4:3x4,y:3x4:3x4:3x4"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("rank 2, the input has rank 3") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--shape-profile", "q:3x4x5:3x4x5:3x4x5"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("shape profile names input 'q'") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--min-shapes", "x:3x4x5", "--shape-profile",
                        "x:3x4x5:3x4x5:3x4x5,y:3x4x5:3x4x5:3x4x5"}, "out.kiln");
  EXPECT_TRUE(last_error_.find("shape profile 1 gives a range for input 'y', which profile 0 does not") != std::string::npos) << last_error_;
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--fp16", "--bf16"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--backend", "no-such-backend"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--no-such-flag"}, "out.kiln");
  expect_clean_failure({"build", "model.onnx"});  // -o is required
  expect_clean_failure({"build", "model.onnx", "-o", "no/such/dir/out.kiln"});
  // A timing cache that is not one (a model, as a slip of the arguments would name) is refused
  // before building and left as it was.
  expect_clean_failure({"build", "model.onnx", "-o", "out.kiln", "--timing-cache", "model.onnx"}, "model.onnx", true);
  EXPECT_TRUE(last_error_.find("timing cache 'model.onnx'") != std::string::npos) << last_error_;
  EXPECT_FALSE(fs::exists(dir_ / "out.kiln"));
  EXPECT_EQ(cases_, 24);
}

TEST_F(CliMalformed, RunAndInspectFailuresWriteNothing) {
  expect_clean_failure({"run", "bad.kiln", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "truncated.kiln", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "short.kiln", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "v99.kiln", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "bad_magic.kiln", "--output-dir", "od"}, "od");  // then read as ONNX
  expect_clean_failure({"run", "squeeze_flipped.onnx", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "missing.kiln", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=missing.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=wrong_shape.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=wrong_rank.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=wrong_dtype.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=truncated.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x=garbage.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "zz=good.npy", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--input", "x", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--shapes", "x:3x", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--iterations", "0", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.onnx", "--opt-level", "9", "--output-dir", "od"}, "od");
  expect_clean_failure({"run", "model.kiln", "--cuda-graph", "--output-dir", "od"}, "od");
  EXPECT_NE(last_error_.find("CUDA graphs need an engine whose layers run on a device"), std::string::npos) << last_error_;
  expect_clean_failure({"inspect", "bad.kiln"});
  expect_clean_failure({"inspect", "truncated.kiln", "--json"});
  expect_clean_failure({"--no-such-flag"});
  expect_clean_failure({"frobnicate", "model.kiln"});
  EXPECT_EQ(cases_, 23);
}

// `inspect --graph` refuses a file type it cannot write and a place it cannot write to, and
// leaves nothing behind (neither the file nor its temporary) when Graphviz's dot is missing.
TEST_F(CliMalformed, InspectGraphFailuresWriteNothing) {
  expect_clean_failure({"inspect", "model.kiln", "--graph", "graph.pdf"}, "graph.pdf");
  expect_clean_failure({"inspect", "model.kiln", "--graph", "graph"}, "graph");  // no extension
  expect_clean_failure({"inspect", "model.kiln", "--graph", "no/such/dir/graph.dot"}, "no/such/dir/graph.dot");
  expect_clean_failure({"inspect", "model.kiln", "--graph", "no/such/dir/graph.svg"}, "no/such/dir/graph.svg");
  EXPECT_NE(last_error_.find("no/such/dir/graph.svg"), std::string::npos) << "the error names the path: " << last_error_;
  // A regular file where a directory should be: unwritable even for root.
  expect_clean_failure({"inspect", "model.kiln", "--graph", "existing.kiln/graph.dot"});
  // The target is a directory: the rename over it fails and the temporary is removed.
  fs::create_directory(dir_ / "taken.dot");
  expect_clean_failure({"inspect", "model.kiln", "--graph", "taken.dot"});
  EXPECT_TRUE(fs::is_directory(dir_ / "taken.dot"));
  EXPECT_FALSE(fs::exists(dir_ / "taken.dot.tmp")) << "taken.dot.tmp was left behind";
  // Without dot on PATH (an empty directory as PATH), .svg and .png fail with the install hint.
  fs::create_directory(dir_ / "empty_path");
  const std::vector<std::string> no_dot = {"PATH=" + (dir_ / "empty_path").string()};
  expect_clean_failure({"inspect", "model.kiln", "--graph", "graph.svg"}, "graph.svg", false, no_dot);
  EXPECT_EQ(last_error_, "kiln: error: --graph needs Graphviz's 'dot' (apt-get install graphviz)\n");
  expect_clean_failure({"inspect", "model.kiln", "--graph", "graph.png"}, "graph.png", false, no_dot);
  int expected = 8;
  // A read-only directory; root writes there regardless, so the case only means something to others.
  if (::geteuid() != 0) {
    fs::create_directory(dir_ / "read_only");
    ::chmod((dir_ / "read_only").c_str(), 0555);
    expect_clean_failure({"inspect", "model.kiln", "--graph", "read_only/graph.dot"}, "read_only/graph.dot");
    ::chmod((dir_ / "read_only").c_str(), 0755);
    ++expected;
  }
  EXPECT_EQ(cases_, expected);
}

bool dot_on_path() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (!d.empty() && ::access((fs::path(d) / "dot").c_str(), X_OK) == 0) return true;
  }
  return false;
}

// `inspect --graph g.dot` draws one box per layer, the graph inputs and outputs, and nothing for
// weights; its edges are the layers' non-weight inputs. The expectations are counted from
// `inspect --json`, a separate code path from the DOT writer.
TEST_F(CliMalformed, InspectGraphDrawsEveryLayer) {
  const std::string model = (kSourceDir / "conformance-data/light/test_squeezenet/model.onnx").string();
  const Outcome json_run = run_cli({"inspect", model, "--json"}, dir_);
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const nlohmann::json info = nlohmann::json::parse(json_run.out);
  const auto& layers = info.at("layers");
  ASSERT_GT(layers.size(), 10u);
  size_t expected_edges = info.at("outputs").size();  // one into each graph output
  for (const auto& l : layers) {
    std::set<std::string> read;  // a value read twice by one layer is one edge
    const auto& names = l.at("inputs");
    for (size_t i = 0; i < names.size(); ++i) {
      if (!names[i].get<std::string>().empty() && !l.at("input_is_weight")[i].get<bool>()) read.insert(names[i].get<std::string>());
    }
    expected_edges += read.size();
  }

  const Outcome dot_run = run_cli({"inspect", model, "--summary", "--graph", "graph.dot"}, dir_);
  ASSERT_EQ(dot_run.exit_code, 0) << dot_run.err;
  EXPECT_FALSE(fs::exists(dir_ / "graph.dot.tmp"));
  const std::string dot = read_bytes(dir_ / "graph.dot");
  ASSERT_EQ(dot.rfind("digraph", 0), 0u) << dot.substr(0, 200);
  std::set<size_t> layer_nodes;
  size_t nodes = 0, edges = 0;
  const std::regex node_re(R"(^  (\w+) \[)"), layer_re(R"(^L(\d+)$)"), edge_re(R"(^  \w+ -> \w+ \[)");
  std::stringstream lines(dot);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, edge_re)) {
      ++edges;
    } else if (std::regex_search(line, m, node_re) && m[1] != "graph" && m[1] != "node" && m[1] != "edge") {
      ++nodes;
      const std::string id = m[1];
      std::smatch lm;
      if (std::regex_match(id, lm, layer_re)) {
        EXPECT_TRUE(layer_nodes.insert(std::stoul(lm[1])).second) << "layer drawn twice: " << line;
      }
    }
  }
  EXPECT_EQ(layer_nodes.size(), layers.size());
  if (!layer_nodes.empty()) {
    EXPECT_EQ(*layer_nodes.rbegin(), layers.size() - 1);
  }
  // Layers, graph inputs and graph outputs, and no node for any weight.
  EXPECT_EQ(nodes, layers.size() + info.at("inputs").size() + info.at("outputs").size());
  EXPECT_EQ(edges, expected_edges);

  if (!dot_on_path()) GTEST_SKIP() << "Graphviz's dot is not installed: the .svg output is not checked";
  const Outcome svg_run = run_cli({"inspect", model, "--summary", "--graph", "graph.svg"}, dir_);
  ASSERT_EQ(svg_run.exit_code, 0) << svg_run.err;
  const std::string svg = read_bytes(dir_ / "graph.svg");
  EXPECT_TRUE(svg.rfind("<?xml", 0) == 0 || svg.rfind("<svg", 0) == 0) << svg.substr(0, 200);
  EXPECT_FALSE(fs::exists(dir_ / "graph.svg.tmp"));
}

// Relu(x) with x of shape [N, 4]: a model whose dim 0 is symbolic, for `bench --batch`.
std::string symbolic_batch_model() {
  auto m = test::new_model();
  test::add_input(m, "x", {"N", "4"});
  test::add_output(m, "y", {"N", "4"});
  test::add_node(m, "Relu", {"x"}, {"y"}, "relu");
  return m.SerializeAsString();
}

// `bench` refuses bad flags before it measures anything, and leaves no --json file (nor its
// temporary) behind. model.kiln's inputs x and y are fixed at 3x4x5.
TEST_F(CliMalformed, BenchFailuresWriteNothing) {
  write_bytes(dir_ / "batch.onnx", symbolic_batch_model());
  fs::create_directory(dir_ / "taken.json");
  auto bench = [this](std::vector<std::string> flags, const std::string& names) {
    std::vector<std::string> args = {"bench", "model.kiln", "--json", "out.json"};
    args.insert(args.end(), flags.begin(), flags.end());
    expect_clean_failure(args, "out.json");
    EXPECT_NE(last_error_.find(names), std::string::npos) << "the error should name '" << names << "': " << last_error_;
  };
  bench({"--iterations", "-1"}, "--iterations -1");
  bench({"--iterations", "0"}, "--iterations 0");
  bench({"--iterations", "many"}, "--iterations");
  bench({"--duration", "0"}, "--duration 0");
  bench({"--duration", "-2"}, "--duration -2");
  bench({"--iterations", "5", "--duration", "2"}, "--iterations 5 and --duration 2");
  bench({"--warmup", "-1"}, "--warmup -1");
  bench({"--warmup", "3", "--warmup-ms", "10"}, "--warmup 3 and --warmup-ms 10");
  bench({"--warmup-ms", "-5"}, "--warmup-ms -5");
  bench({"--contexts", "0"}, "--contexts 0");
  bench({"--contexts", "-3"}, "--contexts -3");
  bench({"--threads", "0"}, "--threads 0");
  bench({"--threads", "100000"}, "--threads 100000");
  bench({"--batch", "0"}, "--batch 0");
  bench({"--batch", "2"}, "input 'x' has a fixed dim 0 of 3");  // dim 0 is fixed at 3
  bench({"--shapes", "nosuch:1x2"}, "--shapes nosuch:1x2: the engine has no input 'nosuch'");
  bench({"--shapes", "x:3x"}, "--shapes");
  bench({"--input", "zz=good.npy"}, "--input zz=good.npy: the engine has no input 'zz'");
  bench({"--input", "x=wrong_shape.npy"}, "x");  // refused by the runtime on the first run
  bench({"--input", "x=missing.npy"}, "missing.npy");
  bench({"--opt-level", "9"}, "--opt-level 9");
  bench({"--check"}, "--check-model");                  // an engine: which ONNX to check against?
  bench({"--check-model", "model.kiln"}, "--check-model model.kiln: is an engine file");
  bench({"--check-model", "batch.onnx"}, "not the model the engine was built from");
  bench({"--check-model", "missing.onnx"}, "missing.onnx");
  // The device options on an engine that computes in host memory, and what cannot go together.
  bench({"--cuda-graph"}, "--cuda-graph: CUDA graphs need an engine whose layers run on a device");
  bench({"--io", "device"}, "--io device: this engine was built for the 'reference' backend");
  bench({"--io", "gpu"}, "--io gpu: must be host or device");
  bench({"--cuda-graph", "--profile"}, "--cuda-graph and --profile are exclusive");
  // An unwritable --json path fails at once, before the model is even read.
  expect_clean_failure({"bench", "model.kiln", "--json", "no/such/dir/out.json"}, "no/such/dir/out.json");
  EXPECT_NE(last_error_.find("--json no/such/dir/out.json"), std::string::npos) << last_error_;
  expect_clean_failure({"bench", "model.kiln", "--json", "taken.json"});
  EXPECT_NE(last_error_.find("--json taken.json"), std::string::npos) << last_error_;
  EXPECT_TRUE(fs::is_directory(dir_ / "taken.json"));
  expect_clean_failure({"bench", "missing.kiln", "--json", "out.json"}, "out.json");
  expect_clean_failure({"bench", "bad.kiln", "--json", "out.json"}, "out.json");
  // A symbolic dim 0: --batch and --shapes must agree, and some shape must be given.
  expect_clean_failure({"bench", "batch.onnx", "--batch", "4", "--shapes", "x:2x4", "--json", "out.json"}, "out.json");
  EXPECT_NE(last_error_.find("--batch 4: --shapes gives input 'x' the shape 2x4"), std::string::npos) << last_error_;
  expect_clean_failure({"bench", "batch.onnx", "--json", "out.json"}, "out.json");
  EXPECT_NE(last_error_.find("input 'x' has symbolic shape"), std::string::npos) << last_error_;
  EXPECT_EQ(cases_, 35);
}

// `bench` measures what it says: --iterations runs on each of --contexts contexts, percentiles
// in order, throughput equal to runs over wall time, --batch reaching the inputs' dim 0.
TEST_F(CliMalformed, BenchWritesConsistentJson) {
  auto check = [this](const std::vector<std::string>& args, int contexts, int iterations, int batch, const std::string& source) {
    std::string cmd = "kiln";
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE(cmd);
    fs::remove(dir_ / "out.json");
    const Outcome o = run_cli(args, dir_);
    ASSERT_EQ(o.exit_code, 0) << o.err;
    EXPECT_TRUE(o.err.empty()) << "stderr is not a terminal, so no progress line: " << o.err;
    EXPECT_NE(o.out.find("latency (ms): min "), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("throughput: "), std::string::npos) << o.out;
    EXPECT_FALSE(fs::exists(dir_ / "out.json.tmp"));
    const nlohmann::json j = nlohmann::json::parse(read_bytes(dir_ / "out.json"));
    // model.kiln was built for the reference backend; an .onnx builds for the default, cpu.
    EXPECT_EQ(j.at("backend"), source == "load" ? "reference" : "cpu");
    EXPECT_EQ(j.at("engine_source"), source);
    EXPECT_EQ(j.at("io"), "host");  // engines without device layers run on host tensors
    EXPECT_EQ(j.at("cuda_graph"), false);
    EXPECT_GE(j.at("build_or_load_ms").get<double>(), 0);
    EXPECT_EQ(j.at("contexts"), contexts);
    EXPECT_EQ(j.at("batch"), batch);
    const int runs = j.at("runs").get<int>();
    EXPECT_EQ(runs, iterations * contexts);
    const auto& lat = j.at("latency_ms");
    EXPECT_EQ(lat.at("count"), runs);
    const double mn = lat.at("min"), med = lat.at("median"), p90 = lat.at("p90"), p99 = lat.at("p99"), mx = lat.at("max"), mean = lat.at("mean");
    EXPECT_GT(mn, 0);
    EXPECT_LE(mn, med);
    EXPECT_LE(med, p90);
    EXPECT_LE(p90, p99);
    EXPECT_LE(p99, mx);
    EXPECT_LE(mn, mean);
    EXPECT_LE(mean, mx);
    ASSERT_EQ(j.at("per_context").size(), static_cast<size_t>(contexts));
    double per_context_min = 1e300, per_context_max = 0;
    for (const auto& c : j.at("per_context")) {
      EXPECT_EQ(c.at("runs"), iterations);
      per_context_min = std::min(per_context_min, c.at("latency_ms").at("min").get<double>());
      per_context_max = std::max(per_context_max, c.at("latency_ms").at("max").get<double>());
    }
    EXPECT_EQ(per_context_min, mn);
    EXPECT_EQ(per_context_max, mx);
    // Each context runs its runs one after another inside the wall time.
    const double wall_s = j.at("wall_s");
    EXPECT_GE(wall_s * 1000, mean * iterations * 0.999);
    const double per_s = j.at("throughput_inferences_per_s");
    EXPECT_NEAR(per_s, runs / wall_s, 1e-6 * per_s);
    EXPECT_NEAR(j.at("throughput_items_per_s").get<double>(), per_s * batch, 1e-6 * per_s * batch);
  };
  check({"bench", "model.onnx", "--iterations", "3", "--warmup", "1", "--contexts", "2", "--json", "out.json"}, 2, 3, 1, "build");
  check({"bench", "model.kiln", "--iterations", "3", "--warmup", "0", "--json", "out.json"}, 1, 3, 1, "load");
  write_bytes(dir_ / "batch.onnx", symbolic_batch_model());
  check({"bench", "batch.onnx", "--batch", "4", "--iterations", "2", "--warmup", "1", "--contexts", "3", "--json", "out.json"}, 3, 2, 4, "build");
  const nlohmann::json j = nlohmann::json::parse(read_bytes(dir_ / "out.json"));
  EXPECT_EQ(j.at("inputs").at(0).at("shape"), nlohmann::json::array({4, 4}));
  // --check: the engine's outputs against fp32 on the reference backend (Add is exact on both).
  check({"bench", "model.kiln", "--iterations", "2", "--check-model", "model.onnx", "--json", "out.json"}, 1, 2, 1, "load");
  const nlohmann::json c = nlohmann::json::parse(read_bytes(dir_ / "out.json")).at("check");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c.at(0).at("rel_l2"), 0.0);
  EXPECT_EQ(c.at(0).at("mismatched"), 0);
  EXPECT_GT(c.at(0).at("elements").get<int64_t>(), 0);
}

// The good corpus members work, so the failures above are about the damage, not the set-up.
TEST_F(CliMalformed, GoodInputsStillWork) {
  const Outcome build = run_cli({"build", "model.onnx", "-o", "ok.kiln"}, dir_);
  EXPECT_EQ(build.exit_code, 0) << build.err;
  EXPECT_TRUE(fs::exists(dir_ / "ok.kiln"));
  const Outcome run = run_cli({"run", "ok.kiln", "--input", "x=good.npy", "--output-dir", "od"}, dir_);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir_ / "od"));
  // The tuning flags: a missing timing cache is created (empty: the cpu backend tunes nothing,
  // so no summary line either).
  const Outcome cached = run_cli({"build", "model.onnx", "-o", "ok2.kiln", "--timing-cache", "tc.json", "--no-tuning"}, dir_);
  EXPECT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_TRUE(fs::exists(dir_ / "tc.json"));
  EXPECT_EQ(cached.err, "");
}

}  // namespace
}  // namespace kiln
