// kiln inspect model.kiln [--json] [--summary] [--graph FILE.svg|.png|.dot]
#include <algorithm>
#include <map>
#include <cstdio>

#include "backends/kernel.h"
#include "builder_flags.h"
#include "cli_common.h"
#include "commands.h"
#include "fmt/format.h"
#include "graph_dot.h"
#include "nlohmann/json.hpp"

namespace kiln::cli {

namespace {

// [[{"input": "x", "min": [1, 4], "opt": [2, 4], "max": [4, 4]}, ...], ...]: one array per profile.
nlohmann::json profiles_json(const std::vector<std::vector<InputRange>>& profiles) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& profile : profiles) {
    nlohmann::json p = nlohmann::json::array();
    for (const InputRange& r : profile) p.push_back({{"input", r.input}, {"min", r.min}, {"opt", r.opt}, {"max", r.max}});
    out.push_back(std::move(p));
  }
  return out;
}

nlohmann::json io_json(const std::vector<IoInfo>& ios) {
  nlohmann::json a = nlohmann::json::array();
  for (const IoInfo& io : ios) a.push_back({{"name", io.name}, {"dtype", dtype_name(io.dtype)}, {"shape", io.shape_string()}});
  return a;
}

nlohmann::json layers_json(const std::vector<LayerInfo>& layers) {
  nlohmann::json a = nlohmann::json::array();
  for (const LayerInfo& l : layers) {
    a.push_back({{"name", l.name}, {"op", l.op}, {"detail", l.detail}, {"backend", l.backend}, {"kernel", l.kernel},
                 {"precision", l.precision}, {"tuning", l.tuning}, {"fused_from", l.fused_from}, {"inputs", l.inputs}, {"input_types", l.input_types},
                 {"input_is_weight", l.input_is_weight}, {"outputs", l.outputs}, {"output_types", l.output_types}});
  }
  return a;
}

// The table is laid out for a 120-column terminal (one column spare: some terminals wrap a line
// that fills the last column); --json has every name and type in full.
constexpr size_t kTableWidth = 119;

// Table cells: a long layer name keeps its end (exporters' names differ at the end:
// ".../layer.3/attention/self/query/MatMul"), anything else keeps its start.
std::string fit_tail(const std::string& s, size_t width) {
  return s.size() <= width ? s : ".." + s.substr(s.size() - (width - 2));
}
std::string fit_head(const std::string& s, size_t width) { return s.size() <= width ? s : s.substr(0, width - 2) + ".."; }

// A column as wide as its widest cell (or header), but never wider than `cap`.
size_t column_width(const std::vector<LayerInfo>& layers, const std::string& header, size_t cap,
                    std::string (*cell)(const LayerInfo&)) {
  size_t w = header.size();
  for (const LayerInfo& l : layers) w = std::max(w, cell(l).size());
  return std::min(w, cap);
}

// "3 ONNX nodes: conv1, bn1, relu1" or "12 ONNX nodes: a, b, c +9 more", the names shortened
// so the line stays within `width`; empty for a layer that is just the ONNX node of its name.
std::string fused_from_text(const LayerInfo& l, size_t width) {
  if (l.fused_from.empty() || (l.fused_from.size() == 1 && l.fused_from[0] == l.name)) return "";
  constexpr size_t kShown = 3, kMinNameWidth = 12;
  const size_t shown = std::min(kShown, l.fused_from.size());
  const std::string head = fmt::format("{} ONNX node{}: ", l.fused_from.size(), l.fused_from.size() == 1 ? "" : "s");
  const std::string more = l.fused_from.size() > shown ? fmt::format(" +{} more", l.fused_from.size() - shown) : "";
  const size_t separators = 2 * (shown - 1);
  size_t room = width > head.size() + more.size() + separators ? width - head.size() - more.size() - separators : 0;
  // Share the room out shortest name first, so short names stay whole and give what they do not
  // need to the long ones.
  std::vector<size_t> order(shown), name_width(shown);
  for (size_t i = 0; i < shown; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l.fused_from[a].size() < l.fused_from[b].size(); });
  for (size_t k = 0; k < shown; ++k) {
    const size_t i = order[k];
    name_width[i] = std::max(kMinNameWidth, std::min(l.fused_from[i].size(), room / (shown - k)));
    room -= std::min(room, name_width[i]);
  }
  std::string names;
  for (size_t i = 0; i < shown; ++i) names += (i ? ", " : "") + fit_tail(l.fused_from[i], name_width[i]);
  return head + names + more;
}

// "float32[1,64,56,56]"; several outputs of one type as "3x float32[...]" (Split), else listed.
std::string outputs_text(const LayerInfo& l) {
  const auto& t = l.output_types;
  if (t.size() > 1 && std::all_of(t.begin(), t.end(), [&t](const std::string& x) { return x == t[0]; })) {
    return fmt::format("{}x {}", t.size(), t[0]);
  }
  std::string outs;
  for (const auto& x : t) outs += (outs.empty() ? "" : ", ") + x;
  return outs;
}

// LayerInfo::tuning split into its problems' choices (none when the layer was not tuned).
std::vector<std::string> tuned_choices(const std::string& tuning) {
  std::vector<std::string> out;
  const std::string sep = kTunedChoiceSeparator;
  for (size_t at = 0; at < tuning.size();) {
    size_t end = tuning.find(sep, at);
    if (end == std::string::npos) end = tuning.size();
    out.push_back(tuning.substr(at, end - at));
    at = end + sep.size();
  }
  return out;
}

void print_layer_table(const std::vector<LayerInfo>& layers, const std::string& engine_backend) {
  // When every layer runs on the engine's backend (the usual case) the backend is said once, in
  // the kernel column's header, which leaves the room to the shapes.
  const bool one_backend = std::all_of(layers.begin(), layers.end(), [&](const LayerInfo& l) { return l.backend == engine_backend; });
  const std::string kernel_header = one_backend ? "kernel (" + engine_backend + ")" : "kernel";
  const size_t w_name = column_width(layers, "layer", 24, [](const LayerInfo& l) { return l.name; });
  const size_t w_op = column_width(layers, "op", 20, [](const LayerInfo& l) { return l.op; });
  const size_t w_detail = column_width(layers, "detail", 16, [](const LayerInfo& l) { return l.detail; });
  const size_t w_backend = one_backend ? 0 : column_width(layers, "backend", 12, [](const LayerInfo& l) { return l.backend; });
  // A layer computing in a lower precision than the model's says so after its kernel's name.
  auto kernel_text = [](const LayerInfo& l) { return l.precision.empty() ? l.kernel : l.kernel + " " + l.precision; };
  const size_t w_kernel = column_width(layers, kernel_header, 22, kernel_text);
  auto row = [&](const std::string& index, const std::string& name, const std::string& op, const std::string& detail,
                 const std::string& backend, const std::string& kernel) {
    std::string line = fmt::format("  {:>4}  {:<{}}  {:<{}}  {:<{}}  ", index, name, w_name, op, w_op, detail, w_detail);
    if (!one_backend) line += fmt::format("{:<{}}  ", backend, w_backend);
    return line + fmt::format("{:<{}}  ", kernel, w_kernel);
  };
  const std::string header = row("#", "layer", "op", "detail", "backend", kernel_header);
  const size_t w_output = std::max<size_t>(16, kTableWidth > header.size() ? kTableWidth - header.size() : 0);
  std::printf("%soutput\n", header.c_str());
  constexpr size_t kFromIndent = 8;  // under the layer name
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerInfo& l = layers[i];
    std::printf("%s%s\n",
                row(std::to_string(i), fit_tail(l.name, w_name), fit_head(l.op, w_op), fit_head(l.detail, w_detail),
                    fit_head(l.backend, std::max<size_t>(w_backend, 4)), fit_head(kernel_text(l), w_kernel))
                    .c_str(),
                fit_head(outputs_text(l), w_output).c_str());
    // The ONNX nodes the layer stands for, when it is not simply one node of the same name.
    const std::string from = fused_from_text(l, kTableWidth - kFromIndent - 3);
    if (!from.empty()) std::printf("%*s<- %s\n", static_cast<int>(kFromIndent), "", from.c_str());
    // What build-time tuning chose for it (cuda convolutions and products): one line per problem
    // tuned (each profile's opt shapes), the dims first.
    const std::vector<std::string> choices = tuned_choices(l.tuning);
    for (size_t c = 0; c < choices.size(); ++c) {
      std::printf("%*s%s%s\n", static_cast<int>(kFromIndent + 3), "", c == 0 ? "tuned: " : "       ",
                  fit_head(choices[c], kTableWidth - kFromIndent - 10).c_str());
    }
  }
}

// A device backend's layers that fell back to host kernels each cost copies between host and
// device memory (the builder's kiln.CopyToDevice/CopyToHost layers): each is worth a warning.
void print_fallback_warnings(const EngineInfo& info) {
  size_t copies = 0;
  for (const LayerInfo& l : info.layers) copies += l.op == "kiln.CopyToDevice" || l.op == "kiln.CopyToHost";
  if (copies == 0) return;
  size_t fallbacks = 0;
  for (const LayerInfo& l : info.layers) {
    if (l.backend == info.backend) continue;
    ++fallbacks;
    std::printf("warning: layer '%s' (%s) has no %s kernel: it runs on the host (%s)\n", l.name.c_str(), l.op.c_str(),
                info.backend.c_str(), l.backend.c_str());
  }
  std::printf("%s: %zu layer%s on the host, %zu copy layer%s between host and device memory\n", fallbacks ? "warning" : "note", fallbacks,
              fallbacks == 1 ? "" : "s", copies, copies == 1 ? "" : "s");
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show an engine's inputs, outputs, layers and memory");
  struct Opts {
    std::string model, graph;
    bool json = false;
    bool summary = false;
    BuilderFlags flags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("engine", o->model, "Engine file (.kiln); an ONNX model is built in memory")->required();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_flag("--summary", o->summary, "Leave out the per-layer table");
  cmd->add_option("--graph", o->graph, "Draw the layer graph to FILE.svg or FILE.png (needs Graphviz's dot), or write FILE.dot");
  o->flags.add_to(*cmd);
  return [o]() -> int {
    // A wrong --graph file type is known before the (possibly long) build.
    if (!o->graph.empty()) {
      Status s = check_graph_path(o->graph);
      if (!s.ok()) return fail(s);
    }
    auto config = o->flags.config();
    if (!config.ok()) return fail(config.status());
    config->show_progress = false;
    auto engine = load_or_build(o->model, *config);
    if (!engine.ok()) return fail(engine.status());
    const EngineInfo info = engine->info();
    // The graph is written before anything is printed, so a failure prints only the error.
    if (!o->graph.empty()) {
      Status s = write_engine_graph(info, o->graph);
      if (!s.ok()) return fail(s);
    }
    if (o->json) {
      nlohmann::json j{{"format_version", info.format_version}, {"producer", info.producer}, {"backend", info.backend},
                       {"device", info.device}, {"source", info.source_name}, {"source_sha256", info.source_sha256},
                       {"build_options", info.build_options}, {"inputs", io_json(info.inputs)}, {"outputs", io_json(info.outputs)},
                       {"layers", layers_json(info.layers)}, {"onnx_nodes", info.onnx_nodes}, {"weights_bytes", info.weights_bytes},
                       {"packed_weights_bytes", info.packed_weights_bytes},
                       {"activation_bytes", info.activation_bytes}, {"profiles", profiles_json(info.profiles)}};
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("engine    %s (format %u, built by %s)\n", o->model.c_str(), info.format_version, info.producer.c_str());
    std::printf("source    %s  sha256 %s\n", info.source_name.c_str(), info.source_sha256.c_str());
    std::printf("target    backend %s, device %s\n", info.backend.c_str(), info.device.c_str());
    std::string opts;
    for (const auto& [k, v] : info.build_options) opts += fmt::format("{}{}={}", opts.empty() ? "" : ", ", k, v);
    std::printf("options   %s\n", opts.c_str());
    for (const IoInfo& io : info.inputs) std::printf("input     %-28s %s[%s]\n", io.name.c_str(), dtype_name(io.dtype), io.shape_string().c_str());
    for (const IoInfo& io : info.outputs) std::printf("output    %-28s %s[%s]\n", io.name.c_str(), dtype_name(io.dtype), io.shape_string().c_str());
    // Each profile's range per input, in the shape syntax of --shape-profile.
    for (size_t p = 0; p < info.profiles.size(); ++p) {
      for (const InputRange& r : info.profiles[p]) {
        std::printf("%-10s%-28s %s .. %s (opt %s)\n", fmt::format("profile {}", p).c_str(), r.input.c_str(),
                    fmt::format("{}", fmt::join(r.min, "x")).c_str(), fmt::format("{}", fmt::join(r.max, "x")).c_str(),
                    fmt::format("{}", fmt::join(r.opt, "x")).c_str());
      }
    }
    std::printf("layers: %zu (from %zu ONNX nodes)", info.layers.size(), info.onnx_nodes);
    std::map<std::string, size_t> lowered;  // layers per lower precision
    for (const LayerInfo& l : info.layers) {
      if (!l.precision.empty()) ++lowered[l.precision];
    }
    for (const auto& [p, count] : lowered) std::printf(", %zu computing in %s", count, p.c_str());
    size_t tuned = 0, problems = 0;
    for (const LayerInfo& l : info.layers) {
      const size_t n = tuned_choices(l.tuning).size();
      tuned += n > 0;
      problems += n;
    }
    if (tuned == problems && tuned) std::printf(", %zu tuned at build time", tuned);
    if (tuned != problems) std::printf(", %zu tuned at build time (%zu problems)", tuned, problems);
    std::printf("\n");
    if (!o->summary) print_layer_table(info.layers, info.backend);
    print_fallback_warnings(info);
    std::printf("memory    weights %.3f MB", static_cast<double>(info.weights_bytes) / 1e6);
    if (info.packed_weights_bytes) std::printf(" (+ %.3f MB packed for the kernels)", static_cast<double>(info.packed_weights_bytes) / 1e6);
    if (info.activation_bytes >= 0) std::printf(", activations %.3f MB", static_cast<double>(info.activation_bytes) / 1e6);
    std::printf("\n");
    if (!o->graph.empty()) std::printf("graph     %s\n", o->graph.c_str());
    return 0;
  };
}

}  // namespace kiln::cli
