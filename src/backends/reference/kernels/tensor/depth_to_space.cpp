#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

// As ONNX defines it: a reshape to 6-D, a transpose, a reshape back to 4-D.
Status ref_depth_to_space(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 4) return ctx.error(fmt::format("input must be 4-D, got {}", x.describe()));
  const int64_t b = ctx.attrs().get_int("blocksize", 0);
  if (b <= 0) return ctx.error(fmt::format("blocksize must be positive, got {}", b));
  const std::string mode = ctx.attrs().get_string("mode", "DCR");
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  int64_t bb = 0, hb = 0, wb = 0;
  if (__builtin_mul_overflow(b, b, &bb) || __builtin_mul_overflow(h, b, &hb) || __builtin_mul_overflow(w, b, &wb)) {
    return ctx.error(fmt::format("blocksize {} is too large", b));
  }
  if (c % (b * b) != 0) return ctx.error(fmt::format("channels {} are not divisible by blocksize^2 = {}", c, b * b));
  const int64_t oc = c / (b * b);
  Dims six;
  std::vector<int64_t> perm;
  if (mode == "DCR") {
    six = {n, b, b, oc, h, w};
    perm = {0, 3, 4, 1, 5, 2};
  } else if (mode == "CRD") {
    six = {n, oc, b, b, h, w};
    perm = {0, 1, 4, 2, 5, 3};
  } else {
    return ctx.error(fmt::format("unknown mode '{}'", mode));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), {n, oc, h * b, w * b}));
  transpose_elements(x.data(), six, dtype_size(x.dtype()), y->data(), perm);
  return ok_status();
}

}  // namespace kiln
