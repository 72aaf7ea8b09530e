// Conv (+ per-channel bias Add) + activation + residual Add + activation -> one kiln.FusedConv.
// The shared logic is in epilogue.cpp; BatchNormalization has been folded into the Conv by then.
#include "passes/epilogue.h"
#include "passes/pass.h"

namespace kiln {

namespace {
class FuseConvEpilogue final : public Pass {
 public:
  std::string name() const override { return "fuse-conv-epilogue"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override { return fuse_epilogues(g, EpilogueLayer::kConv); }
};
}  // namespace

std::unique_ptr<Pass> make_fuse_conv_epilogue_pass() { return std::make_unique<FuseConvEpilogue>(); }

}  // namespace kiln
