// kiln inspect model.kiln [--json]
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace kiln::cli {

namespace {

nlohmann::json io_json(const std::vector<IoInfo>& ios) {
  nlohmann::json a = nlohmann::json::array();
  for (const IoInfo& io : ios) a.push_back({{"name", io.name}, {"dtype", dtype_name(io.dtype)}, {"shape", io.shape_string()}});
  return a;
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show an engine's inputs, outputs, layers and memory");
  struct Opts {
    std::string model;
    bool json = false;
    bool summary = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("engine", o->model, "Engine file (.kiln); an ONNX model is built in memory")->required();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_flag("--summary", o->summary, "Leave out the per-layer table");
  return [o]() -> int {
    BuilderConfig config;
    config.show_progress = false;
    auto engine = load_or_build(o->model, config);
    if (!engine.ok()) return fail(engine.status());
    const EngineInfo info = engine->info();
    if (o->json) {
      nlohmann::json layers = nlohmann::json::array();
      for (const LayerInfo& l : info.layers) {
        layers.push_back({{"name", l.name}, {"op", l.op}, {"backend", l.backend}, {"kernel", l.kernel}, {"fused_from", l.fused_from},
                          {"inputs", l.inputs}, {"input_types", l.input_types}, {"outputs", l.outputs}, {"output_types", l.output_types}});
      }
      nlohmann::json j{{"format_version", info.format_version}, {"producer", info.producer}, {"backend", info.backend},
                       {"device", info.device}, {"source", info.source_name}, {"source_sha256", info.source_sha256},
                       {"build_options", info.build_options}, {"inputs", io_json(info.inputs)}, {"outputs", io_json(info.outputs)},
                       {"layers", layers}, {"onnx_nodes", info.onnx_nodes}, {"weights_bytes", info.weights_bytes},
                       {"activation_bytes", info.activation_bytes}};
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
    std::printf("layers: %zu (from %zu ONNX nodes)\n", info.layers.size(), info.onnx_nodes);
    size_t i = 0;
    for (const LayerInfo& l : o->summary ? std::vector<LayerInfo>{} : info.layers) {
      std::string outs;
      for (const auto& t : l.output_types) outs += (outs.empty() ? "" : ", ") + t;
      std::string from;
      if (l.fused_from.size() > 1 || (l.fused_from.size() == 1 && l.fused_from[0] != l.name)) {
        from = fmt::format("  <- {}", fmt::join(l.fused_from, ", "));
      }
      std::printf("  %4zu  %-32s %-20s %-10s %-22s %s%s\n", i++, l.name.c_str(), l.op.c_str(), l.backend.c_str(), l.kernel.c_str(),
                  outs.c_str(), from.c_str());
    }
    std::printf("memory    weights %.3f MB", static_cast<double>(info.weights_bytes) / 1e6);
    if (info.activation_bytes >= 0) std::printf(", activations %.3f MB", static_cast<double>(info.activation_bytes) / 1e6);
    std::printf("\n");
    return 0;
  };
}

}  // namespace kiln::cli
