#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Status ref_expand(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(auto shape, ints_input(ctx, 1, "shape"));
  for (int64_t v : shape) {
    if (v < 0) return ctx.error(fmt::format("input 1 'shape' has a negative dim {}", v));
  }
  auto b = broadcast_shapes(sym_shape(x.shape()), sym_shape(shape));
  if (!b.ok()) return ctx.error(b.status().message());
  const Dims out = static_dims(*b);
  // View the input with leading 1s so that it has the output's rank.
  Dims in = x.shape();
  in.insert(in.begin(), out.size() - in.size(), 1);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  if (y->numel() == 0) return ok_status();
  std::vector<std::vector<int64_t>> maps(out.size());
  for (size_t d = 0; d < out.size(); ++d) {
    for (int64_t c = 0; c < out[d]; ++c) maps[d].push_back(in[d] == 1 ? 0 : c);
  }
  gather_by_axis_maps(x.data(), in, dtype_size(x.dtype()), y->data(), out, maps, nullptr);
  return ok_status();
}

}  // namespace kiln
