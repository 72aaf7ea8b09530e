// kiln build model.onnx -o model.kiln
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "builder/builder.h"
#include "builder_flags.h"
#include "cli_common.h"
#include "commands.h"
#include "core/sha256.h"
#include "fmt/format.h"
#include "onnx/importer.h"

namespace kiln::cli {

Command add_build_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("build", "Optimize an ONNX model and save it as an engine file");
  struct Opts {
    std::string model, output, dump_after;
    BuilderFlags flags;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("model", o->model, "ONNX model")->required();
  cmd->add_option("-o,--output", o->output, "Engine file to write")->required();
  cmd->add_option("--dump-after", o->dump_after, "Print the graph (text IR) after this pass");
  o->flags.add_to(*cmd);
  return [o]() -> int {
    const auto t0 = std::chrono::steady_clock::now();
    auto config = o->flags.config();
    if (!config.ok()) return fail(config.status());
    auto bytes = read_file(o->model);
    if (!bytes.ok()) return fail(bytes.status());
    const std::string dir = std::filesystem::path(o->model).parent_path().string();
    auto imported = import_onnx_bytes(*bytes, o->model, dir.empty() ? "." : dir);
    if (!imported.ok()) return fail(imported.status());
    BuildInput in;
    in.onnx_nodes = imported->onnx_nodes;
    in.graph = std::move(imported->graph);
    in.source_name = std::filesystem::path(o->model).filename().string();
    in.source_sha256 = sha256_hex(*bytes);
    auto state = build_engine(std::move(in), *config, o->dump_after, [](const std::string& ir) { std::fputs(ir.c_str(), stdout); });
    if (!state.ok()) return fail(state.status());
    Engine engine(std::move(*state));
    if (Status s = engine.save(o->output); !s.ok()) return fail(s);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EngineInfo info = engine.info();
    std::printf("built %s -> %s in %.2f s: %zu layers (from %zu ONNX nodes), backend %s, %s, weights %.1f MB\n", o->model.c_str(),
                o->output.c_str(), secs, info.layers.size(), info.onnx_nodes, info.backend.c_str(),
                info.build_options.at("precision").c_str(), static_cast<double>(info.weights_bytes) / 1e6);
    return 0;
  };
}

}  // namespace kiln::cli
