// kiln bench model.(kiln|onnx): what trtexec is to TensorRT. Builds or loads the engine, warms
// up, then runs back to back on one or more execution contexts (each in a thread of its own) and
// prints latency percentiles and throughput; --json writes every figure.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <set>
#include <system_error>
#include <thread>

#include "bench_check.h"
#include "bench_stats.h"
#include "builder_flags.h"
#include "cli_common.h"
#include "commands.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "runtime/engine_state.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string count_of(size_t n, const char* noun) { return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s"); }

// Seconds under 1 as milliseconds, so a short measurement does not read "0.000 s".
std::string wall_time(double seconds) { return seconds < 1 ? fmt::format("{:.3f} ms", seconds * 1000) : fmt::format("{:.3f} s", seconds); }

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The default measurement when neither --iterations nor --duration is given: every context runs
// at least this many times and for at least this long, whichever takes longer.
constexpr long long kDefaultMinRuns = 10;
constexpr double kDefaultMinSeconds = 3.0;

struct BenchOpts {
  std::string model, shapes, json_file;
  std::vector<std::string> inputs;
  uint64_t seed = 0;
  long long warmup_runs = 10;
  double warmup_ms = 0;
  long long iterations = 0;
  double duration_s = 0;
  long long batch = 0;  // 0: not given
  long long contexts = 1;
  bool profile = false;
  bool cuda_graph = false;  // --cuda-graph
  std::string io;           // --io host|device; empty: device for engines with device layers
  bool check = false;       // --check: outputs against fp32 on the reference backend
  std::string check_model;  // --check-model: the ONNX file an engine was built from
  // Intra-op threads per context (--threads; default all cores), set on every thread that runs.
  long long requested_intra_op_threads = 0;  // 0: not given
  BuilderFlags flags;
  // Which of the exclusive options were given on the command line.
  CLI::Option *warmup_opt = nullptr, *warmup_ms_opt = nullptr, *iterations_opt = nullptr, *duration_opt = nullptr,
              *batch_opt = nullptr, *threads_opt = nullptr;
};

// The numeric flags, checked before anything is loaded so a bad one costs nothing and writes nothing.
Status check_flags(const BenchOpts& o) {
  if (o.iterations_opt->count() && o.duration_opt->count()) {
    return invalid_argument(fmt::format("--iterations {} and --duration {} are exclusive: give one", o.iterations, o.duration_s));
  }
  if (o.warmup_opt->count() && o.warmup_ms_opt->count()) {
    return invalid_argument(fmt::format("--warmup {} and --warmup-ms {} are exclusive: give one", o.warmup_runs, o.warmup_ms));
  }
  if (o.iterations_opt->count() && o.iterations < 1) {
    return invalid_argument(fmt::format("--iterations {}: must be at least 1", o.iterations));
  }
  if (o.duration_opt->count() && !(std::isfinite(o.duration_s) && o.duration_s > 0)) {
    return invalid_argument(fmt::format("--duration {}: must be a positive number of seconds", o.duration_s));
  }
  if (o.warmup_runs < 0) return invalid_argument(fmt::format("--warmup {}: must be 0 or more", o.warmup_runs));
  if (!(std::isfinite(o.warmup_ms) && o.warmup_ms >= 0)) {
    return invalid_argument(fmt::format("--warmup-ms {}: must be 0 or more milliseconds", o.warmup_ms));
  }
  // Each context is a thread; far more than any machine has cores measures only the scheduler.
  if (o.contexts < 1 || o.contexts > 1024) return invalid_argument(fmt::format("--contexts {}: must be 1 to 1024", o.contexts));
  if (o.batch_opt->count() && o.batch < 1) return invalid_argument(fmt::format("--batch {}: must be at least 1", o.batch));
  if (o.threads_opt->count() && (o.requested_intra_op_threads < 1 || o.requested_intra_op_threads > 1024)) {
    return invalid_argument(fmt::format("--threads {}: must be 1 to 1024", o.requested_intra_op_threads));
  }
  if (!o.io.empty() && o.io != "host" && o.io != "device") return invalid_argument(fmt::format("--io {}: must be host or device", o.io));
  if (o.cuda_graph && o.profile) {
    return invalid_argument("--cuda-graph and --profile are exclusive: a replayed CUDA graph runs no layer on its own, so it has no per-layer times");
  }
  return ok_status();
}

// --json FILE must be writable before any time is spent: its directory exists and takes files,
// and FILE is not a directory. The file itself is written only at the end (via FILE.tmp).
Status check_json_path(const std::string& path) {
  if (path.empty()) return ok_status();
  std::error_code ec;
  if (fs::is_directory(path, ec)) return invalid_argument(fmt::format("--json {}: is a directory", path));
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) return io_error(fmt::format("--json {}: cannot write there: no directory '{}'", path, dir.string()));
  if (::access(dir.c_str(), W_OK) != 0) {
    return io_error(fmt::format("--json {}: cannot write in '{}': {}", path, dir.string(), std::strerror(errno)));
  }
  return ok_status();
}

std::string input_names(const Engine& engine) {
  std::string names;
  for (const IoInfo& io : engine.inputs()) names += (names.empty() ? "" : ", ") + io.name;
  return names;
}

bool has_input(const Engine& engine, const std::string& name) {
  return std::any_of(engine.inputs().begin(), engine.inputs().end(), [&](const IoInfo& io) { return io.name == name; });
}

// The shapes random inputs take: --shapes, with --batch filling dim 0 of every input whose dim 0
// is symbolic. Names that are not engine inputs, and a --batch that contradicts a fixed dim 0 or
// a --shapes entry, are errors naming the input.
Result<std::map<std::string, Dims>> bench_shapes(const Engine& engine, const BenchOpts& o, const std::map<std::string, Dims>& given,
                                                 const std::set<std::string>& from_files) {
  for (const auto& [name, dims] : given) {
    if (!has_input(engine, name)) {
      return invalid_argument(fmt::format("--shapes {}: the engine has no input '{}' (its inputs: {})", o.shapes, name, input_names(engine)));
    }
  }
  std::map<std::string, Dims> shapes = given;
  if (!o.batch_opt->count()) return shapes;
  for (const IoInfo& io : engine.inputs()) {
    if (io.dims.empty()) continue;  // a scalar has no batch dim
    if (io.dims[0] >= 0) {
      if (io.dims[0] != o.batch) {
        return invalid_argument(fmt::format("--batch {}: input '{}' has a fixed dim 0 of {} (shape {})", o.batch, io.name, io.dims[0],
                                            io.shape_string()));
      }
      continue;
    }
    if (from_files.count(io.name)) continue;  // checked once the file is read
    auto it = shapes.find(io.name);
    if (it == shapes.end()) {
      Dims dims = io.dims;
      dims[0] = o.batch;
      shapes[io.name] = dims;
    } else if (it->second.empty() || it->second[0] != o.batch) {
      return invalid_argument(fmt::format("--batch {}: --shapes gives input '{}' the shape {}", o.batch, io.name, dims_to_string(it->second)));
    }
  }
  return shapes;
}

// Items per inference: --batch, else the dim 0 that every input with a symbolic dim 0 was given
// (so a fixed-shape model counts 1 item per run).
int64_t items_per_run(const Engine& engine, const BenchOpts& o, const NamedTensors& inputs) {
  if (o.batch_opt->count()) return o.batch;
  int64_t batch = -1;
  for (const IoInfo& io : engine.inputs()) {
    if (io.dims.empty() || io.dims[0] >= 0) continue;
    const Tensor& t = inputs.at(io.name);
    if (t.rank() == 0) continue;
    if (batch >= 0 && batch != t.dim(0)) return 1;
    batch = t.dim(0);
  }
  return batch > 0 ? batch : 1;
}

// What one context did while measured.
struct ContextRun {
  std::unique_ptr<ExecutionContext> ctx;
  NamedTensors outputs;  // bound by the first (untimed) run, then written in place
  NamedDeviceTensors device_outputs;  // --io device: left where the context puts them
  std::vector<double> latencies_ms;
  Clock::time_point end;
  Status status;
};

// --io device: the inputs uploaded once into device memory that the returned owners keep alive;
// every context reads them (run_on_device never writes an input).
Result<NamedDeviceTensors> upload_inputs(const Engine& engine, const NamedTensors& inputs, std::vector<std::shared_ptr<void>>& owners) {
  const Device* device = engine.state()->device;
  NamedDeviceTensors out;
  for (const auto& [name, t] : inputs) {
    KILN_ASSIGN_OR_RETURN(void* p, device->allocate(t.nbytes()));
    owners.emplace_back(p, [device](void* q) { device->free(q); });
    if (t.nbytes()) KILN_RETURN_IF_ERROR(device->copy_to_device(p, t.data(), t.nbytes(), nullptr));
    out[name] = DeviceTensor{t.dtype(), t.shape(), p};
  }
  KILN_RETURN_IF_ERROR(device->synchronize(nullptr));
  return out;
}

// Waits for `done`, redrawing `progress` from `state` (done, total-so-far detail) meanwhile. The
// workers never touch the progress line: it belongs to this thread.
void wait_with_progress(Progress& progress, const std::function<bool()>& done, const std::function<std::pair<size_t, std::string>()>& state) {
  while (!done()) {
    const auto [n, detail] = state();
    progress.update(n, detail);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  progress.finish();
}

nlohmann::json summary_json(const LatencySummary& s) {
  return {{"count", s.count}, {"min", s.min}, {"median", s.median}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}};
}

Status write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      return io_error(fmt::format("--json {}: cannot write '{}'", path, tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return io_error(fmt::format("--json {}: cannot write it: {}", path, why));
  }
  return ok_status();
}

// --profile: the layers' time summed over every context's measured runs, printed as the slowest
// layers and as time per op (fused ops with what they fused), and returned for --json.
nlohmann::json print_profile(const EngineInfo& info, const std::vector<ContextRun>& runs) {
  std::vector<ExecutionContext::LayerTime> sum(info.layers.size());
  int64_t total_runs = 0;
  for (const ContextRun& r : runs) {
    const auto times = r.ctx->layer_times();
    for (size_t i = 0; i < sum.size() && i < times.size(); ++i) {
      sum[i].runs += times[i].runs;
      sum[i].total_ms += times[i].total_ms;
    }
    total_runs += static_cast<int64_t>(r.latencies_ms.size());
  }
  double all_ms = 0;
  for (const auto& t : sum) all_ms += t.total_ms;
  const double per_run = total_runs > 0 ? 1.0 / static_cast<double>(total_runs) : 0;
  auto pct = [&](double ms) { return all_ms > 0 ? 100 * ms / all_ms : 0; };
  auto op_label = [](const LayerInfo& l) { return l.detail.empty() ? l.op : l.op + " (" + l.detail + ")"; };

  nlohmann::json layers = nlohmann::json::array();
  std::vector<size_t> order(sum.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sum[a].total_ms > sum[b].total_ms; });
  constexpr size_t kShown = 15;
  std::printf("profile: %.3f ms per run in layers (sum over %lld runs)\n", all_ms * per_run, static_cast<long long>(total_runs));
  std::printf("  %-8s %6s  %-32s %-40s %s\n", "ms/run", "%", "layer", "op", "kernel (backend)");
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const LayerInfo& l = info.layers[i];
    if (k < kShown && sum[i].runs > 0) {
      std::printf("  %-8.3f %5.1f%%  %-32.32s %-40.40s %s (%s)\n", sum[i].total_ms * per_run, pct(sum[i].total_ms), l.name.c_str(),
                  op_label(l).c_str(), l.kernel.c_str(), l.backend.c_str());
    }
    layers.push_back({{"layer", l.name}, {"op", l.op}, {"detail", l.detail}, {"kernel", l.kernel}, {"backend", l.backend},
                      {"runs", sum[i].runs}, {"ms_per_run", sum[i].total_ms * per_run}});
  }
  if (order.size() > kShown) std::printf("  ... %zu more layers\n", order.size() - kShown);

  // Per op and backend, slowest first.
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> by_op;
  for (size_t i = 0; i < sum.size(); ++i) {
    auto& e = by_op[{info.layers[i].op, info.layers[i].backend}];
    e.first += sum[i].total_ms;
    e.second += 1;
  }
  std::vector<std::pair<std::pair<std::string, std::string>, std::pair<double, int>>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::printf("  by op:\n");
  nlohmann::json op_json = nlohmann::json::array();
  for (const auto& [key, v] : ops) {
    std::printf("  %-8.3f %5.1f%%  %-32s %d layer%s on %s\n", v.first * per_run, pct(v.first), key.first.c_str(), v.second,
                v.second == 1 ? "" : "s", key.second.c_str());
    op_json.push_back({{"op", key.first}, {"backend", key.second}, {"layers", v.second}, {"ms_per_run", v.first * per_run}});
  }
  return {{"ms_per_run", all_ms * per_run}, {"layers", layers}, {"ops", op_json}};
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench",
      "Measure latency and throughput: warm up, then run back to back on --contexts execution contexts (one thread each). "
      "By default each context runs at least 10 times and for at least 3 s, whichever is longer.");
  auto o = std::make_shared<BenchOpts>();
  cmd->add_option("model", o->model, "Engine file (.kiln) or ONNX model (built in memory with the build flags)")->required();
  o->warmup_opt = cmd->add_option("--warmup", o->warmup_runs,
                                  "Untimed runs per context before measuring (default 10). The first, which plans the shapes and "
                                  "binds the outputs, always happens, even with --warmup 0");
  o->warmup_ms_opt = cmd->add_option("--warmup-ms", o->warmup_ms, "Warm up for this many milliseconds per context instead of --warmup runs");
  o->iterations_opt = cmd->add_option("--iterations", o->iterations,
                                      "Measured runs per context (default: at least 10 runs and at least 3 s, whichever is longer)");
  o->duration_opt = cmd->add_option("--duration", o->duration_s, "Measure for this many seconds instead of --iterations runs");
  o->batch_opt = cmd->add_option("--batch", o->batch, "Set dim 0 of every input whose dim 0 is symbolic");
  cmd->add_option("--shapes", o->shapes, "Shapes for random inputs with symbolic dims, e.g. x:1x3x224x224,mask:1x128");
  cmd->add_option("--input", o->inputs, "NAME=FILE (.npy or TensorProto .pb); inputs not given are random, seeded");
  cmd->add_option("--seed", o->seed, "Seed for random inputs");
  cmd->add_option("--contexts", o->contexts, "Execution contexts on the one engine, each run back to back in its own thread (default 1)");
  o->threads_opt = cmd->add_option("--threads", o->requested_intra_op_threads,
                                   "Intra-op threads per context, shared by kiln's cpu kernels and oneDNN (default: all cores; the reference backend runs single-threaded)");
  cmd->add_option("--json", o->json_file, "Write every figure to this file as JSON");
  cmd->add_flag("--profile", o->profile, "Time every layer during the measured runs; print the slowest layers and the time per op");
  cmd->add_flag("--cuda-graph", o->cuda_graph,
                "Capture each context's device work in a CUDA graph and replay it (engines with device layers; two untimed runs "
                "per context make and capture it; exclusive with --profile)");
  cmd->add_option("--io", o->io,
                  "host: inputs are copied to the device and outputs back in every run; device: inputs are uploaded once and outputs "
                  "stay on the device (the GPU compute time, like trtexec's). Default: device for engines with device layers");
  cmd->add_flag("--check", o->check,
                "After measuring, compare the outputs with the model run in fp32 on the reference backend (the error a --bf16 or "
                "--fp16 engine makes)");
  cmd->add_option("--check-model", o->check_model, "The ONNX model an engine file was built from, for --check (implies --check)");
  o->flags.add_to(*cmd);
  return [o]() -> int {
    if (Status s = check_flags(*o); !s.ok()) return fail(s);
    if (Status s = check_json_path(o->json_file); !s.ok()) return fail(s);
    auto config = o->flags.config();
    if (!config.ok()) return fail(config.status());
    config->show_progress = true;
    auto given_shapes = parse_shapes(o->shapes, "--shapes");
    if (!given_shapes.ok()) return fail(given_shapes.status());

    const bool is_engine = is_engine_file(o->model);
    const bool check = o->check || !o->check_model.empty();
    if (check && is_engine && o->check_model.empty()) {
      return fail(invalid_argument(fmt::format("--check: {} is an engine file; give the ONNX model it was built from with --check-model FILE",
                                               o->model)));
    }
    if (!o->check_model.empty() && is_engine_file(o->check_model)) {
      return fail(invalid_argument(fmt::format("--check-model {}: is an engine file; give the ONNX model", o->check_model)));
    }
    const auto load_start = Clock::now();
    auto engine = load_or_build(o->model, *config);
    if (!engine.ok()) return fail(engine.status());
    const double load_ms = ms_between(load_start, Clock::now());

    std::set<std::string> from_files;
    for (const std::string& spec : o->inputs) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) continue;  // prepare_inputs names the malformed spec
      const std::string name = spec.substr(0, eq);
      if (!has_input(*engine, name)) {
        return fail(invalid_argument(fmt::format("--input {}: the engine has no input '{}' (its inputs: {})", spec, name, input_names(*engine))));
      }
      from_files.insert(name);
    }
    auto shapes = bench_shapes(*engine, *o, *given_shapes, from_files);
    if (!shapes.ok()) return fail(shapes.status());
    auto inputs = prepare_inputs(*engine, o->inputs, *shapes, o->seed);
    if (!inputs.ok()) return fail(inputs.status());
    if (o->batch_opt->count()) {
      for (const std::string& name : from_files) {
        const Tensor& t = inputs->at(name);
        if (t.rank() > 0 && t.dim(0) != o->batch) {
          return fail(invalid_argument(fmt::format("--batch {}: --input '{}' has dim 0 of {} ({})", o->batch, name, t.dim(0), t.describe())));
        }
      }
    }
    const int64_t batch = items_per_run(*engine, *o, *inputs);
    const EngineInfo info = engine->info();
    const bool device_io = o->io.empty() ? engine->uses_device() : o->io == "device";
    if (device_io && !engine->uses_device()) {
      return fail(invalid_argument(fmt::format("--io device: this engine was built for the '{}' backend and computes in host memory; "
                                               "--io device needs an engine with device layers (--backend cuda)",
                                               info.backend)));
    }
    std::vector<std::shared_ptr<void>> device_input_memory;
    NamedDeviceTensors device_inputs;
    if (device_io) {
      auto uploaded = upload_inputs(*engine, *inputs, device_input_memory);
      if (!uploaded.ok()) return fail(uploaded.status());
      device_inputs = std::move(*uploaded);
    }
    // One run of a context, with the I/O --io says. Device outputs are given without a buffer, so
    // they stay where the context computed them (no copy) and the graph's addresses stay fixed.
    auto run_once = [&](ContextRun& r) -> Status {
      if (!device_io) return r.ctx->run(*inputs, &r.outputs);
      for (auto& [name, t] : r.device_outputs) t.data = nullptr;
      return r.ctx->run_on_device(device_inputs, &r.device_outputs);
    };
    const size_t contexts = static_cast<size_t>(o->contexts);
    const int intra_threads = o->threads_opt->count() ? static_cast<int>(o->requested_intra_op_threads) : hardware_threads();
    set_intra_op_threads(intra_threads);  // for the first runs below, on this thread

    // Each context's first run plans its shapes and allocates its outputs; from then on the
    // outputs are bound and written in place, so the timed runs measure inference alone. It runs
    // here, one context after another, so bad inputs fail once with one message, before any thread.
    std::vector<ContextRun> runs(contexts);
    const bool warmup_by_time = o->warmup_ms_opt->count() > 0;
    const size_t warmup_runs = warmup_by_time ? 1 : static_cast<size_t>(std::max<long long>(o->warmup_runs, 1));
    std::atomic<size_t> warmed_runs{0};
    {
      Progress progress("warmup", warmup_by_time ? contexts : contexts * warmup_runs);
      for (ContextRun& r : runs) {
        auto ctx = engine->create_execution_context();
        Status s = ctx.ok() ? ok_status() : ctx.status();
        if (s.ok()) {
          r.ctx = std::move(*ctx);
          if (o->cuda_graph) s = r.ctx->set_cuda_graph(true).with_context("--cuda-graph");
        }
        if (s.ok()) s = run_once(r);
        if (!s.ok()) {
          progress.finish();  // so the error does not share the progress line on a terminal
          return fail(s);
        }
        progress.update(++warmed_runs);
      }
    }

    std::printf("%s %s in %.1f ms (backend %s, %s)\n", is_engine ? "loaded" : "built", o->model.c_str(), load_ms, info.backend.c_str(),
                count_of(info.layers.size(), "layer").c_str());
    for (const IoInfo& io : engine->inputs()) {
      std::string source = fmt::format("random, seed {}", o->seed);
      for (const std::string& spec : o->inputs) {
        if (spec.substr(0, spec.find('=')) == io.name) source = "from " + spec.substr(spec.find('=') + 1);
      }
      std::printf("  input  %-24s %s  (%s)\n", io.name.c_str(), inputs->at(io.name).describe().c_str(), source.c_str());
    }
    if (info.backend == "reference") {
      std::printf("threads: 1 per context (the reference backend runs single-threaded)\n");
    } else {
      std::printf("threads: %d per context (intra-op%s)\n", intra_threads, o->threads_opt->count() ? "" : ", all cores");
    }
    const std::string warmup_text =
        warmup_by_time ? fmt::format("{} ms", o->warmup_ms) : count_of(warmup_runs, "run");
    const bool by_iterations = o->iterations_opt->count() > 0, by_duration = o->duration_opt->count() > 0;
    const std::string measure_text = by_iterations ? count_of(static_cast<size_t>(o->iterations), "run")
                                     : by_duration ? fmt::format("{} s", o->duration_s)
                                                   : fmt::format("at least {} runs and {} s", kDefaultMinRuns, kDefaultMinSeconds);
    std::printf("contexts: %zu, each: warmup %s, then %s\n", contexts, warmup_text.c_str(), measure_text.c_str());
    if (engine->uses_device()) {
      std::printf("io: %s\n", device_io ? "device (inputs uploaded once, outputs left on the device: GPU compute, like trtexec's)"
                                        : "host (inputs copied to the device and outputs back in every run)");
      std::printf("cuda graph: %s\n", o->cuda_graph ? "on (two untimed runs per context make and capture it)" : "off");
    }
    std::fflush(stdout);

    // Warm-up and measurement on one thread per context. All contexts start measuring together,
    // when the last one has warmed up; wall time runs from then until the last one stops.
    std::latch warmed(static_cast<std::ptrdiff_t>(contexts)), go(1);
    std::atomic<bool> stop{false};
    std::atomic<size_t> measured_runs{0}, finished{0};
    Clock::time_point measure_start;
    const double measure_ms = by_duration ? o->duration_s * 1000 : kDefaultMinSeconds * 1000;
    auto worker = [&](ContextRun& r) {
      set_intra_op_threads(intra_threads);  // OpenMP's thread count is per calling thread
      // A CUDA graph is made on this thread: one direct run here (plans, workspaces), one capture.
      for (int i = 0; i < (o->cuda_graph ? 2 : 0) && r.status.ok(); ++i) r.status = run_once(r);
      const auto warm_start = Clock::now();
      for (size_t done = 1; r.status.ok() && !stop; ++done) {
        if (warmup_by_time ? ms_between(warm_start, Clock::now()) >= o->warmup_ms : done >= warmup_runs) break;
        r.status = run_once(r);
        ++warmed_runs;
      }
      if (!r.status.ok()) stop = true;
      warmed.count_down();
      go.wait();
      if (o->profile) r.ctx->set_profiling(true);
      if (!stop) r.latencies_ms.reserve(by_iterations ? static_cast<size_t>(o->iterations) : 4096);
      while (!stop) {
        const auto t0 = Clock::now();
        r.status = run_once(r);
        const auto t1 = Clock::now();
        if (!r.status.ok()) {
          stop = true;
          break;
        }
        r.latencies_ms.push_back(ms_between(t0, t1));
        ++measured_runs;
        const long long n = static_cast<long long>(r.latencies_ms.size());
        const double elapsed = ms_between(measure_start, t1);
        if (by_iterations ? n >= o->iterations : by_duration ? elapsed >= measure_ms : n >= kDefaultMinRuns && elapsed >= measure_ms) break;
      }
      r.end = Clock::now();
      ++finished;
    };
    std::vector<std::thread> threads;
    threads.reserve(contexts);
    for (ContextRun& r : runs) {
      try {
        threads.emplace_back(worker, std::ref(r));
      } catch (const std::system_error& e) {
        // Release the threads already started (they skip measuring once `stop` is set).
        stop = true;
        go.count_down();
        for (std::thread& t : threads) t.join();
        return fail(io_error(fmt::format("--contexts {}: cannot start thread {}: {}", contexts, threads.size(), e.what())));
      }
    }
    {
      Progress progress("warmup", warmup_by_time ? static_cast<size_t>(o->warmup_ms) : contexts * warmup_runs);
      const auto warm_start = Clock::now();
      wait_with_progress(
          progress, [&] { return warmed.try_wait(); },
          [&]() -> std::pair<size_t, std::string> {
            if (warmup_by_time) return {static_cast<size_t>(ms_between(warm_start, Clock::now())), fmt::format("{} runs", warmed_runs.load())};
            return {warmed_runs.load(), ""};
          });
    }
    measure_start = Clock::now();
    go.count_down();
    {
      Progress progress("measuring", by_iterations ? contexts * static_cast<size_t>(o->iterations) : static_cast<size_t>(measure_ms));
      wait_with_progress(
          progress, [&] { return finished.load() == contexts; },
          [&]() -> std::pair<size_t, std::string> {
            if (by_iterations) return {measured_runs.load(), ""};
            const double elapsed = std::min(ms_between(measure_start, Clock::now()), measure_ms);
            return {static_cast<size_t>(elapsed), fmt::format("{} runs", measured_runs.load())};
          });
    }
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < contexts; ++i) {
      if (!runs[i].status.ok()) return fail(contexts > 1 ? runs[i].status.with_context(fmt::format("context {}", i)) : runs[i].status);
    }

    std::vector<double> all;
    Clock::time_point last_end = measure_start;
    for (const ContextRun& r : runs) {
      all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
      last_end = std::max(last_end, r.end);
    }
    const LatencySummary lat = summarize_latencies(all);
    const double wall_s = ms_between(measure_start, last_end) / 1000;
    const double per_s = wall_s > 0 ? static_cast<double>(lat.count) / wall_s : 0;
    // Three decimals (microseconds) unless the fastest run needs more to show three digits.
    const int decimals = lat.min > 0 ? std::clamp(2 - static_cast<int>(std::floor(std::log10(lat.min))), 3, 6) : 6;
    std::printf("latency (ms): min %.*f  median %.*f  p90 %.*f  p99 %.*f  max %.*f  mean %.*f\n", decimals, lat.min, decimals, lat.median,
                decimals, lat.p90, decimals, lat.p99, decimals, lat.max, decimals, lat.mean);
    std::printf("throughput: %.2f inferences/s (%.2f items/s at batch %lld)\n", per_s, per_s * static_cast<double>(batch),
                static_cast<long long>(batch));
    std::printf("runs: %zu (%s) in %s wall\n", lat.count, count_of(contexts, "context").c_str(), wall_time(wall_s).c_str());

    nlohmann::json graph_json;
    if (o->cuda_graph) {
      ExecutionContext::CudaGraphCounts counts;
      for (const ContextRun& r : runs) {
        const auto c = r.ctx->cuda_graph_counts();
        counts.uncaptured += c.uncaptured;
        counts.captured += c.captured;
        counts.replayed += c.replayed;
      }
      std::printf("cuda graph: %lld runs replayed, %lld captured, %lld uncaptured (warm-up included)\n", static_cast<long long>(counts.replayed),
                  static_cast<long long>(counts.captured), static_cast<long long>(counts.uncaptured));
      // Every context has the one plan: the first one's note stands for all.
      const std::string note = runs[0].ctx->cuda_graph_note();
      if (!note.empty()) std::printf("warning: --cuda-graph: runs are not replayed from a CUDA graph: %s\n", note.c_str());
      graph_json = {{"replayed", counts.replayed}, {"captured", counts.captured}, {"uncaptured", counts.uncaptured}, {"note", note}};
    }

    nlohmann::json profile_json;
    if (o->profile) profile_json = print_profile(info, runs);

    nlohmann::json check_json;
    if (check && device_io) {
      // The measured runs left their outputs on the device: one more run with host I/O to compare.
      if (Status s = runs[0].ctx->run(*inputs, &runs[0].outputs); !s.ok()) return fail(s);
    }
    if (check) {
      const std::string reference_model = o->check_model.empty() ? o->model : o->check_model;
      auto errors = check_against_fp32(reference_model, is_engine ? info.source_sha256 : "", *inputs, runs[0].outputs);
      if (!errors.ok()) return fail(errors.status());
      const std::string precision = info.build_options.count("precision") ? info.build_options.at("precision") : "fp32";
      std::printf("check: %s engine against fp32 on the reference backend, same inputs\n", precision.c_str());
      check_json = nlohmann::json::array();
      for (const OutputError& e : *errors) {
        std::printf("  output %-24s rel L2 %.3g  max abs %.3g (max |ref| %.3g)", e.name.c_str(), e.rel_l2, e.max_abs, e.max_abs_ref);
        if (e.mismatched) std::printf("  %lld of %lld elements differ or are not finite", static_cast<long long>(e.mismatched),
                                      static_cast<long long>(e.elements));
        std::printf("\n");
        check_json.push_back({{"output", e.name}, {"rel_l2", e.rel_l2}, {"max_abs", e.max_abs}, {"max_abs_ref", e.max_abs_ref},
                              {"mismatched", e.mismatched}, {"elements", e.elements}});
      }
    }

    if (!o->json_file.empty()) {
      nlohmann::json in = nlohmann::json::array();
      for (const IoInfo& io : engine->inputs()) {
        const Tensor& t = inputs->at(io.name);
        in.push_back({{"name", io.name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"engine_shape", io.shape_string()},
                      {"source", from_files.count(io.name) ? "file" : "random"}});
      }
      nlohmann::json per_context = nlohmann::json::array();
      for (const ContextRun& r : runs) {
        per_context.push_back({{"runs", r.latencies_ms.size()}, {"latency_ms", summary_json(summarize_latencies(r.latencies_ms))}});
      }
      nlohmann::json measure{{"mode", by_iterations ? "iterations" : by_duration ? "duration" : "default"}};
      if (by_iterations) measure["iterations"] = o->iterations;
      if (by_duration) measure["duration_s"] = o->duration_s;
      if (!by_iterations && !by_duration) {
        measure["min_runs"] = kDefaultMinRuns;
        measure["min_seconds"] = kDefaultMinSeconds;
      }
      nlohmann::json j{
          {"model", o->model},
          {"backend", info.backend},
          {"engine_source", is_engine ? "load" : "build"},
          {"build_or_load_ms", load_ms},
          {"layers", info.layers.size()},
          {"inputs", in},
          {"seed", o->seed},
          {"batch", batch},
          {"contexts", contexts},
          {"threads_requested", o->threads_opt->count() ? nlohmann::json(o->requested_intra_op_threads) : nlohmann::json(nullptr)},
          {"threads_used", info.backend == "reference" ? 1 : intra_threads},
          {"warmup", warmup_by_time ? nlohmann::json{{"ms", o->warmup_ms}} : nlohmann::json{{"runs", warmup_runs}}},
          {"measure", measure},
          {"runs", lat.count},
          {"wall_s", wall_s},
          {"throughput_inferences_per_s", per_s},
          {"throughput_items_per_s", per_s * static_cast<double>(batch)},
          {"latency_ms", summary_json(lat)},
          {"per_context", per_context},
          {"io", device_io ? "device" : "host"},
          {"cuda_graph", o->cuda_graph},
      };
      if (o->cuda_graph) j["cuda_graph_runs"] = graph_json;
      if (o->profile) j["profile"] = profile_json;
      if (check) j["check"] = check_json;
      if (Status s = write_json_file(o->json_file, j); !s.ok()) return fail(s);
    }
    return 0;
  };
}

}  // namespace kiln::cli
