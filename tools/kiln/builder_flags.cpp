#include "builder_flags.h"

#include "cli_common.h"
#include "fmt/format.h"

namespace kiln::cli {

void BuilderFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--backend", backend, "Target backend (see `kiln backends`; default cpu, \"reference\" is the plain oracle)");
  cmd.add_option("--opt-level", opt_level, "0 none, 1 cleanup and folding, 2 fusions, 3 also layout and backend passes (default 3)");
  cmd.add_flag("--fp16", fp16, "Build in float16 where accuracy allows");
  cmd.add_flag("--bf16", bf16, "Build in bfloat16 where accuracy allows");
  cmd.add_flag("--no-tf32", no_tf32, "cuda: keep float32 products exact (no TF32 tensor cores)");
  cmd.add_option("--disable-pass", disabled_passes, "Skip an optimizer pass by name");
  cmd.add_option("--min-shapes", min_shapes, "Smallest input shapes, e.g. x:1x3x224x224");
  cmd.add_option("--opt-shapes", opt_shapes, "Shapes to optimize for");
  cmd.add_option("--max-shapes", max_shapes, "Largest input shapes");
  cmd.add_option("--timing-cache", timing_cache,
                 "Keep the kernels build-time tuning chose in FILE and reuse them (created when missing; cuda)");
  cmd.add_flag("--no-tuning", no_tuning, "Do not time kernels at build time: the libraries' heuristics choose (faster builds)");
}

Result<BuilderConfig> BuilderFlags::config() const {
  BuilderConfig c;
  c.backend = backend;
  c.opt_level = opt_level;
  if (opt_level < 0 || opt_level > 3) return invalid_argument(fmt::format("--opt-level {} is out of range (0 to 3)", opt_level));
  if (fp16 && bf16) return invalid_argument("--fp16 and --bf16 are exclusive");
  c.precision = fp16 ? "fp16" : bf16 ? "bf16" : "fp32";
  c.allow_tf32 = !no_tf32;
  c.disabled_passes = disabled_passes;
  c.timing_cache = timing_cache;
  c.tune_kernels = !no_tuning;
  KILN_ASSIGN_OR_RETURN(auto mins, parse_shapes(min_shapes, "--min-shapes"));
  KILN_ASSIGN_OR_RETURN(auto opts, parse_shapes(opt_shapes, "--opt-shapes"));
  KILN_ASSIGN_OR_RETURN(auto maxs, parse_shapes(max_shapes, "--max-shapes"));
  // Any one of the three may be given alone; missing ones default to the given ones.
  std::map<std::string, bool> names;
  for (const auto* m : {&mins, &opts, &maxs}) {
    for (const auto& [k, v] : *m) names[k] = true;
  }
  for (const auto& [name, _] : names) {
    InputRange r;
    r.input = name;
    r.opt = opts.count(name) ? opts[name] : (maxs.count(name) ? maxs[name] : mins[name]);
    r.min = mins.count(name) ? mins[name] : r.opt;
    r.max = maxs.count(name) ? maxs[name] : r.opt;
    c.profile.push_back(r);
  }
  return c;
}

}  // namespace kiln::cli
