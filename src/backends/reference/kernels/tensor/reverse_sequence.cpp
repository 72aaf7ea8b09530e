#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_reverse_sequence(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t ta = ctx.attrs().get_int("time_axis", 0);
  const int64_t ba = ctx.attrs().get_int("batch_axis", 1);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) {
    return ctx.error(fmt::format("time_axis {} and batch_axis {} must be 0 and 1", ta, ba));
  }
  if (x.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", x.describe()));
  KILN_ASSIGN_OR_RETURN(auto lens, ints_input(ctx, 1, "sequence_lens"));
  if (static_cast<int64_t>(lens.size()) != x.dim(ba)) {
    return ctx.error(fmt::format("input 1 'sequence_lens' has {} values, expected {} (the batch size)", lens.size(),
                                 x.dim(ba)));
  }
  for (int64_t l : lens) {
    if (l < 0 || l > x.dim(ta)) {
      return ctx.error(fmt::format("sequence length {} is outside [0, {}]", l, x.dim(ta)));
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
  const size_t esize = dtype_size(x.dtype());
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  const auto* src = static_cast<const unsigned char*>(x.data());
  auto* dst = static_cast<unsigned char*>(y->data());
  for_each_index(x.shape(), [&](int64_t lin, const std::vector<int64_t>& idx) {
    const int64_t t = idx[static_cast<size_t>(ta)];
    const int64_t len = lens[static_cast<size_t>(idx[static_cast<size_t>(ba)])];
    const int64_t st = t < len ? len - 1 - t : t;  // the first len steps run backwards
    const int64_t off = lin + (st - t) * strides[static_cast<size_t>(ta)];
    std::memcpy(dst + static_cast<size_t>(lin) * esize, src + static_cast<size_t>(off) * esize, esize);
  });
  return ok_status();
}

}  // namespace kiln
