// kiln conformance [--backend B] DIR... — runs ONNX backend test directories (model.onnx plus
// test_data_set_*/input_*.pb and output_*.pb) through the public API and counts the results.
//
// Each case runs in a child process with a time limit, so one case that crashes or hangs is
// reported as a failure with its signal instead of ending the run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <type_traits>

#include "builder_flags.h"
#include "cli_common.h"
#include "commands.h"
#include "core/dispatch.h"
#include "core/progress.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "onnx/importer.h"

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

enum class Outcome { kPassed, kFailed, kUnsupported };

struct CaseResult {
  std::string name;
  Outcome outcome = Outcome::kFailed;
  std::string reason;
  double seconds = 0;
};

const char* outcome_name(Outcome o) {
  return o == Outcome::kPassed ? "passed" : o == Outcome::kFailed ? "failed" : "unsupported";
}

// Collects case directories: DIR itself if it holds model.onnx, else its subdirectories (two
// levels deep, so both conformance-data/node and conformance-data work).
void collect(const fs::path& dir, int depth, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::exists(dir / "model.onnx", ec)) {
    out.push_back(dir);
    return;
  }
  if (depth == 0) return;
  std::vector<fs::path> subs;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) subs.push_back(e.path());
  }
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) collect(s, depth - 1, out);
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".pb") {
      files.emplace_back(std::atoi(n.c_str() + prefix.size()), e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<fs::path> out;
  for (auto& f : files) out.push_back(f.second);
  return out;
}

// Element i of a tensor as a double, for every dtype a kiln tensor holds (float8 and int4 through
// their explicit conversion to float, which is exact).
template <typename T>
double element_as_double(const Tensor& t, int64_t i) {
  if constexpr (std::is_same_v<compute_t<T>, T> && !std::is_arithmetic_v<T>) {
    return static_cast<double>(static_cast<float>(t.data_as<T>()[i]));
  } else {
    return static_cast<double>(static_cast<compute_t<T>>(t.data_as<T>()[i]));
  }
}

template <typename Fn>
Status dispatch_any(DataType t, Fn&& fn) {
  return dtype_is_lowbit(t) ? dispatch_lowbit(t, fn) : dispatch_all(t, fn);
}

// Tolerances of onnx's own backend-test runner (rtol 1e-3), with an absolute floor that allows
// for float32 arithmetic where numpy computed in float64, and looser bounds for 16-bit floats.
// float8 has no absolute floor: adjacent float8 values differ by far more than rtol, so a float8
// result must match exactly (+0 and -0 compare equal); int4 compares exactly like the integers.
Status compare(const Tensor& got, const Tensor& want, const std::string& name) {
  if (got.dtype() != want.dtype()) {
    return invalid_argument(fmt::format("output {}: dtype {}, expected {}", name, dtype_name(got.dtype()), dtype_name(want.dtype())));
  }
  if (got.shape() != want.shape()) {
    return invalid_argument(fmt::format("output {}: shape {}, expected {}", name, dims_to_string(got.shape()), dims_to_string(want.shape())));
  }
  double rtol = 1e-3, atol = 1e-5;
  if (got.dtype() == DataType::kFloat16) atol = 1e-3;
  if (got.dtype() == DataType::kBFloat16) rtol = atol = 1e-2;
  if (dtype_is_float8(got.dtype())) atol = 0;
  int64_t bad = 0, first = -1;
  double worst = 0;
  Status s = dispatch_any(got.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double x = element_as_double<T>(got, i);
      const double y = element_as_double<T>(want, i);
      bool ok;
      if (std::isnan(y)) ok = std::isnan(x);
      else if (std::isinf(y)) ok = x == y;
      else if (!dtype_is_float(got.dtype())) ok = x == y;
      else ok = std::fabs(x - y) <= atol + rtol * std::fabs(y);
      if (!ok) {
        if (first < 0) first = i;
        ++bad;
        if (!std::isnan(x) && !std::isnan(y)) worst = std::max(worst, std::fabs(x - y));
      }
    }
    return ok_status();
  });
  if (!s.ok()) return s;
  if (bad) {
    double x = 0, y = 0;
    (void)dispatch_any(got.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      x = element_as_double<T>(got, first);
      y = element_as_double<T>(want, first);
      return ok_status();
    });
    return invalid_argument(fmt::format("output {}: {} of {} values differ (first at {}: {} vs expected {}; max abs diff {:.3g})", name,
                                        bad, got.numel(), first, x, y, worst));
  }
  return ok_status();
}

// onnx's test-data writer stores bfloat16 tensors as their raw uint16 bit patterns (numpy has no
// bfloat16); read those back as bfloat16 where the model says bfloat16.
Tensor as_dtype_of_bits(Tensor t, DataType want) {
  if (want == DataType::kBFloat16 && t.dtype() == DataType::kUInt16) {
    return Tensor::wrap(DataType::kBFloat16, t.shape(), t.data(), std::make_shared<Tensor>(t));
  }
  return t;
}

CaseResult run_case(const fs::path& dir, const BuilderConfig& config) {
  CaseResult r;
  r.name = dir.filename().string();
  auto fail_with = [&](const Status& s) {
    r.outcome = s.code() == StatusCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
    r.reason = s.message();
    return r;
  };
  Builder builder(config);
  auto engine = builder.build_from_file((dir / "model.onnx").string());
  if (!engine.ok()) return fail_with(engine.status());
  auto ctx = engine->create_execution_context();
  if (!ctx.ok()) return fail_with(ctx.status());
  std::vector<fs::path> sets;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return fail_with(invalid_argument("no test_data_set_* directory"));
  for (const fs::path& set : sets) {
    const auto in_files = sorted_files(set, "input_");
    const auto out_files = sorted_files(set, "output_");
    if (in_files.size() != engine->inputs().size()) {
      return fail_with(invalid_argument(fmt::format("{}: {} input files for {} engine inputs", set.filename().string(), in_files.size(),
                                                    engine->inputs().size())));
    }
    NamedTensors inputs, outputs;
    for (size_t i = 0; i < in_files.size(); ++i) {
      auto bytes = read_file(in_files[i].string());
      if (!bytes.ok()) return fail_with(bytes.status());
      auto t = tensor_from_proto_bytes(*bytes, in_files[i].string());
      if (!t.ok()) return fail_with(t.status());
      inputs[engine->inputs()[i].name] = as_dtype_of_bits(std::move(*t), engine->inputs()[i].dtype);
    }
    if (Status s = (*ctx)->run(inputs, &outputs); !s.ok()) return fail_with(s.with_context(set.filename().string()));
    if (out_files.size() != engine->outputs().size()) {
      return fail_with(invalid_argument(fmt::format("{}: {} output files for {} engine outputs", set.filename().string(), out_files.size(),
                                                    engine->outputs().size())));
    }
    for (size_t i = 0; i < out_files.size(); ++i) {
      auto bytes = read_file(out_files[i].string());
      if (!bytes.ok()) return fail_with(bytes.status());
      auto want = tensor_from_proto_bytes(*bytes, out_files[i].string());
      if (!want.ok()) return fail_with(want.status());
      const std::string& name = engine->outputs()[i].name;
      const Tensor& got = outputs.at(name);
      if (Status s = compare(got, as_dtype_of_bits(*want, got.dtype()), fmt::format("{} '{}'", i, name)); !s.ok()) {
        return fail_with(s.with_context(set.filename().string()));
      }
    }
  }
  r.outcome = Outcome::kPassed;
  return r;
}

// Runs one case in a child process; the child reports "<outcome>\t<reason>" through a pipe.
CaseResult run_isolated(const fs::path& dir, const BuilderConfig& config, int timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  CaseResult r;
  r.name = dir.filename().string();
  int fds[2];
  if (::pipe(fds) != 0) {
    r = run_case(dir, config);
  } else {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      ::alarm(static_cast<unsigned>(timeout_s));
      CaseResult c = run_case(dir, config);
      std::string msg = fmt::format("{}\t{}", static_cast<int>(c.outcome), c.reason);
      for (char& ch : msg) {
        if (ch == '\n') ch = ' ';
      }
      size_t off = 0;
      while (off < msg.size()) {
        const ssize_t w = ::write(fds[1], msg.data() + off, msg.size() - off);
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
      ::close(fds[1]);
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
      const int sig = WTERMSIG(status);
      r.outcome = Outcome::kFailed;
      r.reason = sig == SIGALRM ? fmt::format("timed out after {} s", timeout_s) : fmt::format("crashed with signal {} ({})", sig, strsignal(sig));
    } else if (msg.empty()) {
      r.outcome = Outcome::kFailed;
      r.reason = fmt::format("exited with status {} without a result", WEXITSTATUS(status));
    } else {
      const size_t tab = msg.find('\t');
      r.outcome = static_cast<Outcome>(std::atoi(msg.substr(0, tab).c_str()));
      r.reason = tab == std::string::npos ? "" : msg.substr(tab + 1);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

Command add_conformance_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("conformance", "Run ONNX backend test directories and count passes");
  struct Opts {
    std::vector<std::string> dirs;
    std::string filter, json_file;
    int min_passed = -1;
    int timeout_s = 120;
    bool quiet = false;
    BuilderFlags flags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("dirs", o->dirs, "Test directories (a case, or a directory of cases)")->required();
  cmd->add_option("--filter", o->filter, "Only cases whose directory name matches this regex");
  cmd->add_option("--json", o->json_file, "Write every case's result and reason to this file");
  cmd->add_option("--min-passed", o->min_passed, "Exit 1 if fewer cases pass (the recorded floor)");
  cmd->add_option("--timeout", o->timeout_s, "Seconds allowed per case")->check(CLI::Range(1, 3600));
  cmd->add_flag("--quiet", o->quiet, "Print only the summary line");
  o->flags.add_to(*cmd);
  return [o]() -> int {
    auto config = o->flags.config();
    if (!config.ok()) return fail(config.status());
    config->show_progress = false;
    // The suite's float32 outputs are checked at float32 tolerances: TF32 products are a precision
    // choice (like --fp16), not float32, so conformance always runs without them.
    config->allow_tf32 = false;
    std::regex re;
    try {
      re = std::regex(o->filter.empty() ? ".*" : o->filter);
    } catch (const std::regex_error& e) {
      return fail(invalid_argument(fmt::format("--filter '{}' is not a valid regex: {}", o->filter, e.what())));
    }
    std::vector<fs::path> cases;
    for (const std::string& d : o->dirs) {
      std::error_code ec;
      if (!fs::is_directory(d, ec)) return fail(not_found(fmt::format("test directory '{}' not found", d)));
      std::vector<fs::path> found;
      collect(d, 2, found);
      for (auto& c : found) {
        if (std::regex_search(c.filename().string(), re)) cases.push_back(c);
      }
    }
    std::vector<CaseResult> results;
    size_t passed = 0, failed = 0, unsup = 0;
    Progress progress("conformance", cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      progress.update(i, cases[i].filename().string());
      CaseResult r = run_isolated(cases[i], *config, o->timeout_s);
      (r.outcome == Outcome::kPassed ? passed : r.outcome == Outcome::kFailed ? failed : unsup)++;
      if (!o->quiet && r.outcome != Outcome::kPassed) {
        progress.finish();
        std::printf("%-11s %s: %s\n", outcome_name(r.outcome), r.name.c_str(), r.reason.c_str());
        progress = Progress("conformance", cases.size());
      }
      results.push_back(std::move(r));
    }
    progress.finish();
    std::printf("conformance: %zu passed, %zu failed, %zu unsupported of %zu\n", passed, failed, unsup, cases.size());
    if (!o->json_file.empty()) {
      nlohmann::json j = nlohmann::json::array();
      for (const CaseResult& r : results) {
        j.push_back({{"case", r.name}, {"result", outcome_name(r.outcome)}, {"reason", r.reason}, {"seconds", r.seconds}});
      }
      std::ofstream f(o->json_file);
      f << nlohmann::json{{"backend", config->backend}, {"passed", passed}, {"failed", failed}, {"unsupported", unsup},
                          {"total", cases.size()}, {"cases", j}}.dump(2)
        << "\n";
      if (!f) return fail(io_error(fmt::format("cannot write '{}'", o->json_file)));
    }
    if (o->min_passed >= 0 && passed < static_cast<size_t>(o->min_passed)) {
      std::fprintf(stderr, "kiln: error: %zu cases passed, below the recorded floor of %d\n", passed, o->min_passed);
      return 1;
    }
    return 0;
  };
}

}  // namespace kiln::cli
