#include "builder_flags.h"

#include <sstream>

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
  cmd.add_option("--shape-profile", shape_profiles,
                 "One more optimization profile: NAME:MIN:OPT:MAX per input, joined by commas, e.g. "
                 "x:16x3x224x224:24x3x224x224:32x3x224x224. Repeat for more; --min/--opt/--max-shapes, when given, "
                 "are the first profile. A run's shapes must fit one profile; kernels are tuned for the first's opt shapes")
      ->allow_extra_args(false);
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
  std::vector<InputRange> first;
  for (const auto& [name, _] : names) {
    InputRange r;
    r.input = name;
    r.opt = opts.count(name) ? opts[name] : (maxs.count(name) ? maxs[name] : mins[name]);
    r.min = mins.count(name) ? mins[name] : r.opt;
    r.max = maxs.count(name) ? maxs[name] : r.opt;
    first.push_back(r);
  }
  if (!first.empty()) c.profiles.push_back(std::move(first));
  for (const std::string& spec : shape_profiles) {
    KILN_ASSIGN_OR_RETURN(auto profile, parse_profile(spec));
    c.profiles.push_back(std::move(profile));
  }
  return c;
}

// "x:1x3:2x3:4x3,y:1x5:1x5:1x5" -> one range per input. The name may contain ':' (the last three
// separate the shapes); an error names the malformed item.
Result<std::vector<InputRange>> parse_profile(const std::string& spec) {
  const std::string flag = "--shape-profile";
  std::vector<InputRange> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    size_t colons[3];
    size_t end = item.size();
    bool complete = true;
    for (size_t& c : colons) {
      c = end == 0 ? std::string::npos : item.rfind(':', end - 1);
      if (c == std::string::npos || c == 0) {
        complete = false;
        break;
      }
      end = c;
    }
    if (!complete) {
      return invalid_argument(fmt::format("{}: '{}' is not NAME:MIN:OPT:MAX (e.g. x:1x3x224x224:8x3x224x224:16x3x224x224)", flag, item));
    }
    const std::string name = item.substr(0, colons[2]);
    // Each shape through parse_shapes, which checks its dims; errors still name the whole item.
    InputRange r;
    r.input = name;
    Dims* fields[3] = {&r.min, &r.opt, &r.max};
    const size_t starts[3] = {colons[2] + 1, colons[1] + 1, colons[0] + 1};
    const size_t ends[3] = {colons[1], colons[0], item.size()};
    for (int f = 0; f < 3; ++f) {
      const std::string dims = item.substr(starts[f], ends[f] - starts[f]);
      auto parsed = parse_shapes("_:" + dims, flag);
      if (!parsed.ok() || dims.empty()) {
        return invalid_argument(fmt::format("{}: '{}' has a bad shape '{}' (dims are non-negative integers joined by x)", flag, item, dims));
      }
      *fields[f] = parsed->at("_");
    }
    if (r.min.size() != r.opt.size() || r.opt.size() != r.max.size()) {
      return invalid_argument(fmt::format("{}: '{}': min, opt and max must have the same rank (got {}, {} and {})", flag, item,
                                          r.min.size(), r.opt.size(), r.max.size()));
    }
    for (const InputRange& other : out) {
      if (other.input == name) return invalid_argument(fmt::format("{}: '{}' gives input '{}' a second range in one profile", flag, spec, name));
    }
    out.push_back(std::move(r));
  }
  if (out.empty()) return invalid_argument(fmt::format("{}: '{}' names no input (NAME:MIN:OPT:MAX, joined by commas)", flag, spec));
  return out;
}

}  // namespace kiln::cli
