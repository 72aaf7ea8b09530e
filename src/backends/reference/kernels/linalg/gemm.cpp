#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"

namespace kiln {

Status ref_gemm(KernelContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  const Tensor* c = ctx.input(2);
  if (a.rank() != 2 || b.rank() != 2) {
    return ctx.error(fmt::format("A {} and B {} must be 2-D", a.describe(), b.describe()));
  }
  if (a.dtype() != b.dtype() || (c && c->dtype() != a.dtype()))
    return ctx.error("inputs have different dtypes");
  const bool ta = ctx.attrs().get_int("transA", 0) != 0;
  const bool tb = ctx.attrs().get_int("transB", 0) != 0;
  const double alpha = ctx.attrs().get_float("alpha", 1.0f);
  const double beta = ctx.attrs().get_float("beta", 1.0f);
  const int64_t M = ta ? a.dim(1) : a.dim(0);
  const int64_t K = ta ? a.dim(0) : a.dim(1);
  const int64_t N = tb ? b.dim(0) : b.dim(1);
  if ((tb ? b.dim(1) : b.dim(0)) != K) {
    return ctx.error(fmt::format("inner dims differ: A {} (transA {}), B {} (transB {})",
                                 a.describe(), ta, b.describe(), tb));
  }
  const Dims out_dims{M, N};
  std::vector<int64_t> cstr;  // C's strides viewed as [M, N]
  if (c) {
    if (c->rank() > 2) return ctx.error(fmt::format("input 2 'C' {} has rank > 2", c->describe()));
    for (size_t i = 0; i < c->shape().size(); ++i) {
      const int64_t d = c->shape()[i];
      const int64_t want = out_dims[out_dims.size() - c->shape().size() + i];
      if (d != want && d != 1) {
        return ctx.error(
            fmt::format("input 2 'C' {} does not broadcast to {}x{}", c->describe(), M, N));
      }
    }
    cstr = broadcast_strides(c->shape(), out_dims);
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a.dtype(), out_dims));
  return dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const T* ap = a.data_as<T>();
    const T* bp = b.data_as<T>();
    const T* cp = c ? c->data_as<T>() : nullptr;
    T* yp = y->data_as<T>();
    // A'[m, k] and B'[k, n] read through their strides (no transposed copies of large weights).
    const int64_t as_m = ta ? 1 : K, as_k = ta ? M : 1;
    const int64_t bs_k = tb ? 1 : N, bs_n = tb ? K : 1;
    std::vector<A> prod(static_cast<size_t>(M * N), A(0));
    for (int64_t m = 0; m < M; ++m) {
      A* prow = prod.data() + m * N;
      if (tb) {
        // B' rows are B's rows: a dot product over contiguous memory per output.
        for (int64_t n = 0; n < N; ++n) {
          A sum = A(0);
          for (int64_t k = 0; k < K; ++k)
            sum += to_acc<T>(ap[m * as_m + k * as_k]) * to_acc<T>(bp[n * bs_n + k]);
          prow[n] = sum;
        }
      } else {
        for (int64_t k = 0; k < K; ++k) {
          const A av = to_acc<T>(ap[m * as_m + k * as_k]);
          const T* brow = bp + k * bs_k;
          for (int64_t n = 0; n < N; ++n) prow[n] += av * to_acc<T>(brow[n]);
        }
      }
    }
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        const A p = prod[static_cast<size_t>(m * N + n)];
        const T* cv = cp ? cp + m * cstr[0] + n * cstr[1] : nullptr;
        if constexpr (std::is_integral_v<T>) {
          // Integer Gemm: exact (wrapping) when alpha and beta are 1, else through double.
          if (alpha == 1.0 && beta == 1.0) {
            yp[m * N + n] = from_acc<T>(p + (cv ? to_acc<T>(*cv) : 0));
          } else {
            const double pd = std::is_signed_v<T> ? static_cast<double>(static_cast<int64_t>(p))
                                                  : static_cast<double>(p);
            const double v = alpha * pd + (cv ? beta * static_cast<double>(*cv) : 0.0);
            yp[m * N + n] = saturate_round<T>(v);
          }
        } else {
          double v = alpha * p;
          if (cv) v += beta * static_cast<double>(static_cast<compute_t<T>>(*cv));
          yp[m * N + n] = from_acc<T>(v);
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
