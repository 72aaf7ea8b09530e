#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Base grid coordinates in [-1, 1] (pixel corners with align_corners, centers without), then
// theta @ [x, y, (z,) 1] per point; the last output component is x (the width axis).
Status ref_affine_grid(KernelContext& ctx) {
  const Tensor& theta = *ctx.input(0);
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> size, indexing::read_indices(ctx, 1, "size"));
  if (size.size() != 4 && size.size() != 5) {
    return ctx.error(fmt::format("input 1 'size' has {} values, expected 4 or 5", size.size()));
  }
  for (int64_t v : size) {
    if (v < 0) return ctx.error(fmt::format("input 1 'size' has a negative value {}", v));
  }
  const int64_t sp = static_cast<int64_t>(size.size()) - 2;
  const int64_t n = size[0];
  if (theta.rank() != 3 || theta.dim(0) != n || theta.dim(1) != sp || theta.dim(2) != sp + 1) {
    return ctx.error(fmt::format("input 0 'theta' has shape {}, expected {}x{}x{}", dims_to_string(theta.shape()), n,
                                 sp, sp + 1));
  }
  const bool align = ctx.attrs().get_int("align_corners", 0) != 0;
  // Spatial dims in order (D,) H, W; coordinate component k reads dim sp-1-k.
  Dims sdims(size.begin() + 2, size.end());
  Dims od{n};
  od.insert(od.end(), sdims.begin(), sdims.end());
  od.push_back(sp);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, theta.dtype(), od));
  auto base = [&](int64_t i, int64_t len) -> double {
    if (align) return len <= 1 ? -1.0 : -1.0 + static_cast<double>(i) * (2.0 / static_cast<double>(len - 1));
    const double step = 2.0 / static_cast<double>(len);
    return -1.0 + step / 2 + static_cast<double>(i) * step;
  };
  const int64_t points = element_count(sdims);
  return dispatch_float(theta.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* th = theta.data_as<T>();
    T* out = y->data_as<T>();
    std::vector<double> homo(static_cast<size_t>(sp + 1));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t p = 0; p < points; ++p) {
        int64_t rem = p;
        for (int64_t d = sp - 1; d >= 0; --d) {
          const int64_t len = sdims[static_cast<size_t>(d)];
          // Component k = sp-1-d: x comes from the last dim.
          homo[static_cast<size_t>(sp - 1 - d)] = base(rem % len, len);
          rem /= len;
        }
        homo[static_cast<size_t>(sp)] = 1.0;
        for (int64_t r = 0; r < sp; ++r) {
          double acc = 0;
          for (int64_t k = 0; k <= sp; ++k) {
            acc += static_cast<double>(static_cast<compute_t<T>>(th[(b * sp + r) * (sp + 1) + k])) * homo[static_cast<size_t>(k)];
          }
          out[(b * points + p) * sp + r] = static_cast<T>(static_cast<compute_t<T>>(acc));
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
