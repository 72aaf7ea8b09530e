// MatMul or Gemm + bias Add + activation + residual Add + activation -> one kiln.FusedMatMul.
// The shared logic is in epilogue.cpp. A Gemm with nothing to absorb stays a Gemm.
#include "passes/epilogue.h"
#include "passes/pass.h"

namespace kiln {

namespace {
class FuseMatMulEpilogue final : public Pass {
 public:
  std::string name() const override { return "fuse-matmul-epilogue"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override { return fuse_epilogues(g, EpilogueLayer::kMatMul); }
};
}  // namespace

std::unique_ptr<Pass> make_fuse_matmul_epilogue_pass() { return std::make_unique<FuseMatMulEpilogue>(); }

}  // namespace kiln
