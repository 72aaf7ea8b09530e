// One function per subcommand; each registers its flags on the CLI11 app and returns the
// callback that runs it (returning the process exit code).
#pragma once

#include <functional>

#include "CLI/CLI.hpp"

namespace kiln::cli {
using Command = std::function<int()>;
Command add_build_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_inspect_command(CLI::App& app);
Command add_conformance_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
}  // namespace kiln::cli
