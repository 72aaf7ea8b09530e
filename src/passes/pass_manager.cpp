#include <algorithm>

#include "fmt/format.h"
#include "ir/printer.h"
#include "passes/pass.h"

namespace kiln {

std::vector<std::unique_ptr<Pass>> all_passes() {
  std::vector<std::unique_ptr<Pass>> p;
  p.push_back(make_fold_constants_pass());
  p.push_back(make_resolve_shape_reads_pass());
  p.push_back(make_remove_identity_ops_pass());
  p.push_back(make_eliminate_common_subexpressions_pass());
  p.push_back(make_eliminate_dead_code_pass());
  p.push_back(make_fold_batchnorm_pass());
  // Level 2, in this order: recognizers first (so GELU can be an epilogue activation),
  // attention before transpose folding (which would take its Transposes), QKV merging before
  // epilogue fusion (which would take the biases), the QKV Split into the Attention once both
  // exist, pointwise chains last (what no layer took). Attention masks are narrowed right after
  // the fusion that makes the Attentions.
  p.push_back(make_recognize_gelu_pass());
  p.push_back(make_recognize_layernorm_pass());
  p.push_back(make_recognize_rmsnorm_pass());
  p.push_back(make_fuse_attention_pass());
  p.push_back(make_narrow_attention_masks_pass());
  p.push_back(make_merge_qkv_projections_pass());
  p.push_back(make_pack_qkv_attention_pass());
  p.push_back(make_fold_transpose_into_matmul_pass());
  p.push_back(make_fuse_matmul_epilogue_pass());
  p.push_back(make_fuse_conv_epilogue_pass());
  p.push_back(make_fuse_pointwise_chains_pass());
  p.push_back(make_convert_to_channels_last_pass());
  return p;
}

std::vector<std::string> pass_names() {
  std::vector<std::string> names;
  for (const auto& p : all_passes()) names.push_back(p->name());
  return names;
}

Status run_passes(Graph& g, const PassOptions& options) {
  if (options.opt_level < 0 || options.opt_level > 3) {
    return invalid_argument(fmt::format("--opt-level {} is out of range (0 to 3)", options.opt_level));
  }
  const auto names = pass_names();
  for (const std::string& d : options.disabled) {
    if (std::find(names.begin(), names.end(), d) == names.end()) {
      return invalid_argument(fmt::format("--disable-pass: unknown pass '{}'", d));
    }
  }
  if (!options.dump_after.empty() && std::find(names.begin(), names.end(), options.dump_after) == names.end()) {
    return invalid_argument(fmt::format("--dump-after: unknown pass '{}'", options.dump_after));
  }
  auto passes = all_passes();
  auto runs = [&](const Pass& p, int min_level, int max_level) {
    if (p.level() < min_level || p.level() > std::min(max_level, options.opt_level) || !p.wanted(options)) return false;
    return std::find(options.disabled.begin(), options.disabled.end(), p.name()) == options.disabled.end();
  };
  // Passes of levels [min_level, max_level], repeated until nothing changes (at most max_rounds
  // times: a fusion can expose a fold and the other way round, and two passes could keep undoing
  // each other). Returns whether anything changed; `dump` prints the graph after --dump-after's
  // pass in the first round.
  auto run_rounds = [&](int min_level, int max_level, int max_rounds, bool dump) -> Result<bool> {
    bool any = false;
    for (int round = 0; round < max_rounds; ++round) {
      bool changed = false;
      for (auto& p : passes) {
        if (!runs(*p, min_level, max_level)) continue;
        KILN_ASSIGN_OR_RETURN(bool c, p->run(g));
        changed |= c;
        if (options.verify) {
          if (Status s = g.verify(); !s.ok()) return internal_error(fmt::format("after pass {}: {}", p->name(), s.message()));
        }
        if (dump && round == 0 && p->name() == options.dump_after && options.dump) options.dump(print_graph(g));
      }
      any |= changed;
      if (!changed) break;
    }
    return any;
  };
  constexpr int kMaxRounds = 8;
  KILN_RETURN_IF_ERROR(run_rounds(1, 2, kMaxRounds, true).status());
  // Layout passes see the fused graph once; the cleanup after them removes the Transposes they
  // leave between converted nodes (composed pairs, duplicates, unread values).
  if (options.opt_level >= 3) {
    KILN_ASSIGN_OR_RETURN(bool laid_out, run_rounds(3, 3, 1, true));
    if (laid_out) KILN_RETURN_IF_ERROR(run_rounds(1, 1, kMaxRounds, false).status());
  }
  return ok_status();
}

}  // namespace kiln
