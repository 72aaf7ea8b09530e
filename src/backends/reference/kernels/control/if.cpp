// If: runs the branch the condition picks and copies its outputs.
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/subgraph_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_if(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(bool cond, truth_of(ctx, *ctx.input(0), "input 0 'cond'"));
  auto g = ctx.attrs().require_graph(cond ? "then_branch" : "else_branch");
  if (!g.ok()) return ctx.error(g.status().message());
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph(**g, {}));
  if (outs.size() != ctx.num_outputs()) {
    return ctx.error(fmt::format("{} gave {} outputs, expected {}", cond ? "then_branch" : "else_branch", outs.size(),
                                 ctx.num_outputs()));
  }
  for (size_t i = 0; i < outs.size(); ++i) KILN_RETURN_IF_ERROR(output_copy(ctx, i, outs[i]));
  return ok_status();
}

}  // namespace kiln
