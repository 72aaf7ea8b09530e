// Graph passes. Each pass is one file; the PassManager runs them by optimization level,
// to a fixed point, can skip a pass by name and can dump the graph after one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct PassOptions;

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  // The lowest --opt-level that runs it.
  virtual int level() const = 0;
  // Whether the build wants it at all (layout passes depend on what the backend prefers).
  virtual bool wanted(const PassOptions&) const { return true; }
  // Returns whether it changed the graph.
  virtual Result<bool> run(Graph& g) = 0;
};

// Level 1: cleanup and folding (src/passes/<name>.cpp, one pass per file).
std::unique_ptr<Pass> make_fold_constants_pass();
std::unique_ptr<Pass> make_eliminate_dead_code_pass();
std::unique_ptr<Pass> make_resolve_shape_reads_pass();
std::unique_ptr<Pass> make_remove_identity_ops_pass();
std::unique_ptr<Pass> make_eliminate_common_subexpressions_pass();
// Level 2: fusions (kiln's fused ops are described in docs/fused_ops.md).
std::unique_ptr<Pass> make_fold_batchnorm_pass();
std::unique_ptr<Pass> make_recognize_gelu_pass();
std::unique_ptr<Pass> make_recognize_layernorm_pass();
std::unique_ptr<Pass> make_recognize_rmsnorm_pass();
std::unique_ptr<Pass> make_fuse_attention_pass();
std::unique_ptr<Pass> make_narrow_attention_masks_pass();
std::unique_ptr<Pass> make_merge_qkv_projections_pass();
std::unique_ptr<Pass> make_pack_qkv_attention_pass();
std::unique_ptr<Pass> make_fold_transpose_into_matmul_pass();
std::unique_ptr<Pass> make_fuse_matmul_epilogue_pass();
std::unique_ptr<Pass> make_fuse_conv_epilogue_pass();
std::unique_ptr<Pass> make_fuse_pointwise_chains_pass();
// Level 3: layouts the backend prefers (run once the fusions are done, then the cleanup again).
std::unique_ptr<Pass> make_convert_to_channels_last_pass();

#ifdef NDEBUG
inline constexpr bool kVerifyPassesByDefault = false;
#else
inline constexpr bool kVerifyPassesByDefault = true;
#endif

struct PassOptions {
  int opt_level = 1;
  std::vector<std::string> disabled;
  std::string dump_after;                                 // a pass name
  std::function<void(const std::string&)> dump;          // receives the text IR
  // Check the graph's structure after every pass (on in debug builds and in the pass tests).
  bool verify = kVerifyPassesByDefault;
  // The backend runs 2-D convolutions fastest channels-last (Backend::prefers_channels_last).
  bool channels_last_convs = false;
};

// Every pass kiln has, in the order they run.
std::vector<std::unique_ptr<Pass>> all_passes();
std::vector<std::string> pass_names();

Status run_passes(Graph& g, const PassOptions& options);

}  // namespace kiln
