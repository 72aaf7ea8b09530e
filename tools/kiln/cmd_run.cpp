// kiln run model.(kiln|onnx) [--input name=file.npy] — runs once, writes outputs as .npy and
// prints their shapes and a summary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "builder_flags.h"
#include "cli_common.h"
#include "commands.h"
#include "core/dispatch.h"
#include "core/npy.h"
#include "fmt/format.h"

namespace kiln::cli {

namespace {

std::string summarize(const Tensor& t) {
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  std::string head;
  Status s = dispatch_all(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = static_cast<double>(static_cast<compute_t<T>>(p[i]));
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      sum += v;
      if (i < 4) head += fmt::format("{}{:.6g}", i ? ", " : "", v);
    }
    return ok_status();
  });
  if (!s.ok() || t.numel() == 0) return "(empty)";
  return fmt::format("min {:.6g}  max {:.6g}  mean {:.6g}  [{}{}]", mn, mx, sum / static_cast<double>(t.numel()), head,
                     t.numel() > 4 ? ", ..." : "");
}

// Largest absolute and relative difference between two tensors of one dtype and shape.
Result<std::pair<double, double>> max_difference(const Tensor& got, const Tensor& want, const std::string& name) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return invalid_argument(fmt::format("--expect {}: expected {}, the engine gave {}", name, want.describe(), got.describe()));
  }
  double abs_diff = 0, rel_diff = 0;
  Status s = dispatch_all(got.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < got.numel(); ++i) {
      const double a = static_cast<double>(static_cast<compute_t<T>>(got.data_as<T>()[i]));
      const double b = static_cast<double>(static_cast<compute_t<T>>(want.data_as<T>()[i]));
      const double d = std::fabs(a - b);
      abs_diff = std::max(abs_diff, d);
      rel_diff = std::max(rel_diff, d / std::max(std::fabs(b), 1e-12));
    }
    return ok_status();
  });
  if (!s.ok()) return s;
  return std::make_pair(abs_diff, rel_diff);
}

std::string file_name_for(const std::string& name) {
  std::string s = name;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  }
  return s + ".npy";
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run an engine (or an ONNX model, built in memory) once");
  struct Opts {
    std::string model, shapes, output_dir = "kiln_outputs";
    std::vector<std::string> inputs, expects;
    uint64_t seed = 0;
    int iterations = 1;
    bool cuda_graph = false;
    BuilderFlags flags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("model", o->model, "Engine file (.kiln) or ONNX model")->required();
  cmd->add_option("--input", o->inputs, "NAME=FILE (.npy or TensorProto .pb; inputs not given are random, seeded)");
  cmd->add_option("--expect", o->expects, "NAME=FILE: print the largest difference from this expected output");
  cmd->add_option("--shapes", o->shapes, "Shapes for random inputs with symbolic dims, e.g. x:1x3x224x224");
  cmd->add_option("--output-dir", o->output_dir, "Where to write the outputs as .npy");
  cmd->add_option("--seed", o->seed, "Seed for random inputs");
  cmd->add_option("--iterations", o->iterations, "Run this many times and report the median time")->check(CLI::Range(1, 1000000));
  cmd->add_flag("--cuda-graph", o->cuda_graph,
                "Replay the device work from a CUDA graph (engines with device layers): with --iterations 3 or more, the first run "
                "at the shape runs directly, the second captures, the rest replay");
  o->flags.add_to(*cmd);
  return [o]() -> int {
    auto config = o->flags.config();
    if (!config.ok()) return fail(config.status());
    config->show_progress = true;
    auto shapes = parse_shapes(o->shapes, "--shapes");
    if (!shapes.ok()) return fail(shapes.status());
    auto engine = load_or_build(o->model, *config);
    if (!engine.ok()) return fail(engine.status());

    auto inputs = prepare_inputs(*engine, o->inputs, *shapes, o->seed);
    if (!inputs.ok()) return fail(inputs.status());
    NamedTensors expected;
    for (const std::string& spec : o->expects) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) return fail(invalid_argument(fmt::format("--expect '{}' is not NAME=FILE", spec)));
      const std::string name = spec.substr(0, eq);
      bool known = false;
      for (const IoInfo& io : engine->outputs()) known |= io.name == name;
      if (!known) return fail(invalid_argument(fmt::format("--expect: the engine has no output '{}'", name)));
      auto t = read_tensor_file(spec.substr(eq + 1));
      if (!t.ok()) return fail(t.status());
      expected[name] = std::move(*t);
    }
    auto ctx = engine->create_execution_context();
    if (!ctx.ok()) return fail(ctx.status());
    if (o->cuda_graph) {
      if (Status s = (*ctx)->set_cuda_graph(true); !s.ok()) return fail(s.with_context("--cuda-graph"));
    }
    NamedTensors outputs;
    std::vector<double> times;
    for (int it = 0; it < o->iterations; ++it) {
      const auto t0 = std::chrono::steady_clock::now();
      if (Status s = (*ctx)->run(*inputs, &outputs); !s.ok()) return fail(s);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    std::error_code ec;
    std::filesystem::create_directories(o->output_dir, ec);
    if (ec) return fail(io_error(fmt::format("cannot create '{}': {}", o->output_dir, ec.message())));
    const EngineInfo info = engine->info();
    std::printf("ran %s (%zu layers, backend %s) in %.3f ms%s\n", o->model.c_str(), info.layers.size(), info.backend.c_str(),
                times[times.size() / 2], o->iterations > 1 ? fmt::format(" (median of {})", o->iterations).c_str() : "");
    if (o->cuda_graph) {
      const auto counts = (*ctx)->cuda_graph_counts();
      std::printf("  cuda graph: %lld runs replayed, %lld captured, %lld uncaptured\n", static_cast<long long>(counts.replayed),
                  static_cast<long long>(counts.captured), static_cast<long long>(counts.uncaptured));
      const std::string note = (*ctx)->cuda_graph_note();
      if (!note.empty()) std::printf("warning: --cuda-graph: runs are not replayed from a CUDA graph: %s\n", note.c_str());
    }
    for (const IoInfo& io : engine->inputs()) {
      std::printf("  input  %-24s %s\n", io.name.c_str(), (*inputs)[io.name].describe().c_str());
    }
    for (const IoInfo& io : engine->outputs()) {
      const Tensor& t = outputs.at(io.name);
      const std::string path = (std::filesystem::path(o->output_dir) / file_name_for(io.name)).string();
      if (Status s = write_npy(path, t); !s.ok()) return fail(s);
      std::printf("  output %-24s %s  %s -> %s\n", io.name.c_str(), t.describe().c_str(), summarize(t).c_str(), path.c_str());
    }
    for (const auto& [name, want] : expected) {
      auto d = max_difference(outputs.at(name), want, name);
      if (!d.ok()) return fail(d.status());
      std::printf("  check  %-24s max abs diff %.3g, max rel diff %.3g against the expected output\n", name.c_str(), d->first, d->second);
    }
    return 0;
  };
}

}  // namespace kiln::cli
