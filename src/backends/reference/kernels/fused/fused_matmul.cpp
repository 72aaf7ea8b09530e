// FusedMatMul: MatMul's own layout and loops (matmul_shape, matmul_acc) on the operands as
// transposed, the product scaled by alpha in the accumulator and rounded once to the output dtype;
// then bias, activation, residual and post-activation in place, each as the unfused op computes it.
#include <tuple>
#include <utility>

#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

namespace {

// A's or B's elements as the product reads them: a transposed copy (last two dims swapped) when
// `trans`, else the tensor itself. `dims` receives the shape the product sees.
template <typename T>
const T* operand_view(const Tensor& t, bool trans, std::vector<T>& copy, Dims& dims) {
  dims = t.shape();
  if (!trans) return t.data_as<T>();
  const size_t r = dims.size();
  const int64_t rows = dims[r - 2], cols = dims[r - 1];
  const int64_t mats = rows * cols == 0 ? 0 : t.numel() / (rows * cols);
  copy.resize(static_cast<size_t>(t.numel()));
  const T* src = t.data_as<T>();
  for (int64_t m = 0; m < mats; ++m) {
    const T* s = src + m * rows * cols;
    T* d = copy.data() + m * rows * cols;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) d[j * rows + i] = s[i * cols + j];
    }
  }
  std::swap(dims[r - 2], dims[r - 1]);
  return copy.data();
}

}  // namespace

Status ref_fused_matmul(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* a, fused_required_input(ctx, 0, "A"));
  KILN_ASSIGN_OR_RETURN(const Tensor* b, fused_required_input(ctx, 1, "B"));
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 4));
  const int64_t trans_a = ctx.attrs().get_int("trans_a", 0), trans_b = ctx.attrs().get_int("trans_b", 0);
  for (const auto& [name, v, t] : {std::tuple{"trans_a", trans_a, a}, std::tuple{"trans_b", trans_b, b}}) {
    if (v != 0 && v != 1) return ctx.error(fmt::format("attribute '{}' is {}, expected 0 or 1", name, v));
    if (v == 1 && t->rank() < 2) {
      return ctx.error(fmt::format("attribute '{}' is 1 but the operand {} has rank < 2", name, t->describe()));
    }
  }
  const double alpha = ctx.attrs().get_float("alpha", 1.0f);
  Epilogue e;
  KILN_RETURN_IF_ERROR(read_epilogue_activations(ctx, e));
  e.bias = ctx.input(2);
  e.residual = ctx.input(3);
  return dispatch_float(a->dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    std::vector<T> a_copy, b_copy;
    Dims a_dims, b_dims;
    const T* ap = operand_view<T>(*a, trans_a == 1, a_copy, a_dims);
    const T* bp = operand_view<T>(*b, trans_b == 1, b_copy, b_dims);
    KILN_ASSIGN_OR_RETURN(MatMulShape s, matmul_shape(ctx, a_dims, b_dims));
    KILN_RETURN_IF_ERROR(fused_check_fits(ctx, e.bias, s.out, "input 2 'bias'"));
    KILN_RETURN_IF_ERROR(fused_check_fits(ctx, e.residual, s.out, "input 3 'Z'"));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), s.out));
    std::vector<double> acc(static_cast<size_t>(y->numel()));
    matmul_acc<T>(s, ap, bp, acc.data());
    T* yp = y->data_as<T>();
    for (size_t i = 0; i < acc.size(); ++i) yp[i] = from_acc<T>(alpha * acc[i]);
    apply_epilogue<T>(e, *y);
    return ok_status();
  });
}

}  // namespace kiln
