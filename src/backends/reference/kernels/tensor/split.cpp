#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

Status ref_split(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int opset = ctx.node().opset;
  const int64_t rank = x.rank();
  if (rank == 0) return ctx.error("cannot split a scalar");
  int64_t axis = ctx.attrs().get_int("axis", 0);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  std::optional<std::vector<int64_t>> split;
  if (opset < 13 && ctx.attrs().has("split")) {
    split = ctx.attrs().get_ints("split");
  } else if (ctx.has_input(1) && (opset >= 13 || opset < 2)) {
    KILN_ASSIGN_OR_RETURN(split, ints_input(ctx, 1, "split"));
  }
  const size_t n = ctx.num_outputs();
  KILN_ASSIGN_OR_RETURN(auto sizes, with_node_result(ctx, split_sizes(x.dim(axis), split, n, opset >= 18)));
  const size_t esize = dtype_size(x.dtype());
  int64_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    Dims out = x.shape();
    out[static_cast<size_t>(axis)] = sizes[i];
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(i, x.dtype(), out));
    std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) {
      for (int64_t c = 0; c < out[static_cast<size_t>(d)]; ++c) maps[static_cast<size_t>(d)].push_back(d == axis ? pos + c : c);
    }
    gather_by_axis_maps(x.data(), x.shape(), esize, y->data(), out, maps, nullptr);
    pos += sizes[i];
  }
  return ok_status();
}

}  // namespace kiln
