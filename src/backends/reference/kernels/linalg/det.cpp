// Det: LU decomposition with partial pivoting, in double, per matrix.
#include <cmath>

#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_det(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2)) {
    return ctx.error(fmt::format("input 0 'X' {} is not made of square matrices", x.describe()));
  }
  const int64_t n = x.dim(x.rank() - 1);
  const Dims out_dims(x.shape().begin(), x.shape().end() - 2);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));
  const std::vector<double> xv = tensor_as_doubles(x);
  const int64_t count = y->numel();
  std::vector<double> dets(static_cast<size_t>(count));
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t b = 0; b < count; ++b) {
    std::copy_n(xv.begin() + b * n * n, n * n, a.begin());
    double det = 1.0;
    for (int64_t c = 0; c < n && det != 0.0; ++c) {
      int64_t piv = c;
      for (int64_t r = c + 1; r < n; ++r) {
        if (std::fabs(a[static_cast<size_t>(r * n + c)]) >
            std::fabs(a[static_cast<size_t>(piv * n + c)]))
          piv = r;
      }
      const double pv = a[static_cast<size_t>(piv * n + c)];
      if (pv == 0.0) {
        det = 0.0;
        break;
      }
      if (piv != c) {
        for (int64_t k = 0; k < n; ++k)
          std::swap(a[static_cast<size_t>(piv * n + k)], a[static_cast<size_t>(c * n + k)]);
        det = -det;
      }
      det *= pv;
      for (int64_t r = c + 1; r < n; ++r) {
        const double f = a[static_cast<size_t>(r * n + c)] / pv;
        if (f == 0.0) continue;
        for (int64_t k = c; k < n; ++k)
          a[static_cast<size_t>(r * n + k)] -= f * a[static_cast<size_t>(c * n + k)];
      }
    }
    dets[static_cast<size_t>(b)] = det;
  }
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y->data_as<T>();
    for (size_t i = 0; i < dets.size(); ++i)
      out[i] = static_cast<T>(static_cast<compute_t<T>>(dets[i]));
    return ok_status();
  });
}

}  // namespace kiln
