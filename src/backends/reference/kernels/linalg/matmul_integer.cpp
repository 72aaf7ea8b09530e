#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln {

Status ref_matmul_integer(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(ctx, a.shape(), b.shape()));
  // (x - zero_point) for both operands, exactly, as uint64 accumulators (wrapping arithmetic).
  auto shifted = [&](const Tensor& x, size_t zp_input, bool rows,
                     const char* name) -> Result<std::vector<uint64_t>> {
    const std::vector<int64_t> xv = tensor_as_int64s(x);
    std::vector<double> zp(xv.size(), 0.0);
    if (const Tensor* z = ctx.input(zp_input)) {
      if (z->dtype() != x.dtype())
        return ctx.error(std::string("input '") + name + "' has another dtype than its operand");
      KILN_ASSIGN_OR_RETURN(zp, expand_matmul_param(ctx, *z, x.shape(), rows, name));
    }
    std::vector<uint64_t> out(xv.size());
    for (size_t i = 0; i < xv.size(); ++i)
      out[i] = static_cast<uint64_t>(xv[i] - static_cast<int64_t>(zp[i]));
    return out;
  };
  KILN_ASSIGN_OR_RETURN(std::vector<uint64_t> av, shifted(a, 2, true, "a_zero_point"));
  KILN_ASSIGN_OR_RETURN(std::vector<uint64_t> bv, shifted(b, 3, false, "b_zero_point"));
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt32, s.out));
  std::vector<uint64_t> c(static_cast<size_t>(y->numel()));
  matmul_acc(s, av.data(), bv.data(), c.data());
  int32_t* out = y->data_as<int32_t>();
  for (size_t i = 0; i < c.size(); ++i) out[i] = static_cast<int32_t>(c[i]);
  return ok_status();
}

}  // namespace kiln
