// kiln: build, run, inspect and test inference engines from ONNX models.
#include <cstdio>
#include <exception>
#include <map>
#include <new>

#include "CLI/CLI.hpp"
#include "commands.h"
#include "kiln/kiln.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: an inference optimizer and runtime for ONNX models"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version");
  std::map<std::string, kiln::cli::Command> commands;
  commands["build"] = kiln::cli::add_build_command(app);
  commands["run"] = kiln::cli::add_run_command(app);
  commands["inspect"] = kiln::cli::add_inspect_command(app);
  commands["conformance"] = kiln::cli::add_conformance_command(app);
  commands["bench"] = kiln::cli::add_bench_command(app);
  auto* backends = app.add_subcommand("backends", "List the backends and whether they can run here");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kiln: error: %s (see kiln --help)\n", e.what());
    return 1;
  }
  if (show_version) {
    std::printf("kiln %s\n", kiln::version());
    return 0;
  }
  if (backends->parsed()) {
    for (const auto& b : kiln::available_backends()) {
      std::printf("%-10s %s\n", b.name.c_str(), b.available ? "available" : ("unavailable: " + b.reason).c_str());
    }
    return 0;
  }
  for (auto& [name, cmd] : commands) {
    if (!app.got_subcommand(name)) continue;
    // The library reports errors as values; this only catches what escapes from below it.
    try {
      return cmd();
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "kiln: error: out of memory\n");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kiln: error: %s\n", e.what());
    }
    return 1;
  }
  std::printf("%s", app.help().c_str());
  return 0;
}
