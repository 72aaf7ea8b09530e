// Loop: for (i = 0; i < M && cond; ++i) (cond, v..., scan...) = body(i, cond, v...). Without M
// there is no bound; without cond the body's cond output is ignored (ONNX's for loop), so a node
// with neither could never end and is refused.
#include <limits>

#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/subgraph_util.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status ref_loop(KernelContext& ctx) {
  auto body_r = ctx.attrs().require_graph("body");
  if (!body_r.ok()) return ctx.error(body_r.status().message());
  const Graph& body = **body_r;
  if (ctx.num_inputs() < 2) return ctx.error("Loop takes at least 2 inputs");
  const size_t n = ctx.num_inputs() - 2;
  if (ctx.num_outputs() < n) return ctx.error("fewer outputs than loop-carried values");
  const size_t k = ctx.num_outputs() - n;

  int64_t max_trips = std::numeric_limits<int64_t>::max();
  if (ctx.has_input(0)) {
    auto v = read_int64s(*ctx.input(0));
    if (!v.ok() || v->size() != 1) return ctx.error(fmt::format("input 0 'M' is {}, expected one int64", ctx.input(0)->describe()));
    max_trips = (*v)[0];
  }
  const bool use_cond = ctx.has_input(1);
  bool cond = true;
  if (use_cond) {
    KILN_ASSIGN_OR_RETURN(cond, truth_of(ctx, *ctx.input(1), "input 1 'cond'"));
  }
  if (!use_cond && !ctx.has_input(0)) return ctx.error("Loop has neither M nor cond, so it would never end");

  std::vector<Tensor> carried;
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(2 + i)) return ctx.error(fmt::format("loop-carried input {} is empty", 2 + i));
    carried.push_back(*ctx.input(2 + i));
  }
  std::vector<std::vector<Tensor>> scans(k);
  std::vector<Tensor> body_in(2 + n);
  KILN_ASSIGN_OR_RETURN(body_in[0], Tensor::allocate(DataType::kInt64, {}));
  KILN_ASSIGN_OR_RETURN(body_in[1], Tensor::allocate(DataType::kBool, {}));
  for (int64_t it = 0; it < max_trips && cond; ++it) {
    // Fresh iteration/cond tensors each time: the body's outputs may alias its inputs.
    KILN_ASSIGN_OR_RETURN(body_in[0], Tensor::allocate(DataType::kInt64, {}));
    KILN_ASSIGN_OR_RETURN(body_in[1], Tensor::allocate(DataType::kBool, {}));
    *body_in[0].data_as<int64_t>() = it;
    *body_in[1].data_as<bool>() = cond;
    for (size_t i = 0; i < n; ++i) body_in[2 + i] = carried[i];
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph(body, body_in));
    if (outs.size() != 1 + n + k) {
      return ctx.error(fmt::format("the body gave {} outputs, expected {}", outs.size(), 1 + n + k));
    }
    if (use_cond) {
      KILN_ASSIGN_OR_RETURN(cond, truth_of(ctx, outs[0], "the body's cond output"));
    }
    for (size_t i = 0; i < n; ++i) {
      if (outs[1 + i].dtype() != carried[i].dtype()) {
        return ctx.error(fmt::format("loop-carried value {} changes dtype from {} to {}", i,
                                     dtype_name(carried[i].dtype()), dtype_name(outs[1 + i].dtype())));
      }
      carried[i] = outs[1 + i];
    }
    for (size_t j = 0; j < k; ++j) scans[j].push_back(outs[1 + n + j]);
  }
  for (size_t i = 0; i < n; ++i) KILN_RETURN_IF_ERROR(output_copy(ctx, i, carried[i]));
  for (size_t j = 0; j < k; ++j) {
    DataType dt;
    Dims ed;
    declared_output(body, 1 + n + j, dt, ed);
    KILN_RETURN_IF_ERROR(output_stack(ctx, n + j, scans[j], 0, false, dt, ed, static_cast<int64_t>(scans[j].size())));
  }
  return ok_status();
}

}  // namespace kiln
