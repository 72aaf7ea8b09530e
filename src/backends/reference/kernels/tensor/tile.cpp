#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_tile(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(auto reps, ints_input(ctx, 1, "repeats"));
  if (static_cast<int64_t>(reps.size()) != x.rank()) {
    return ctx.error(fmt::format("input 1 'repeats' has {} values, expected {} (the input rank)", reps.size(), x.rank()));
  }
  Dims out;
  std::vector<std::vector<int64_t>> maps(reps.size());
  for (size_t d = 0; d < reps.size(); ++d) {
    if (reps[d] < 0) return ctx.error(fmt::format("repeats[{}] is negative ({})", d, reps[d]));
    int64_t v = 0;
    if (__builtin_mul_overflow(x.dim(static_cast<int64_t>(d)), reps[d], &v)) {
      return ctx.error(fmt::format("repeats[{}] = {} makes the output too large", d, reps[d]));
    }
    out.push_back(v);
  }
  if (element_count(out) < 0) return ctx.error(fmt::format("output shape {} is too large", dims_to_string(out)));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out));
  if (y->numel() == 0) return ok_status();
  for (size_t d = 0; d < out.size(); ++d) {
    for (int64_t c = 0; c < out[d]; ++c) maps[d].push_back(c % x.dim(static_cast<int64_t>(d)));
  }
  gather_by_axis_maps(x.data(), x.shape(), dtype_size(x.dtype()), y->data(), out, maps, nullptr);
  return ok_status();
}

}  // namespace kiln
