#include <cstring>

#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

// Scatters X into a zero tensor of the unpooled shape at the flat positions in I; with an
// output_shape input that tensor sits in the leading corner of the (larger) output.
Status ref_max_unpool(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  if (x.rank() < 3) return ctx.error(fmt::format("input 0 has shape {}, expected rank 3 or more", dims_to_string(x.shape())));
  if (ind.dtype() != DataType::kInt64) return ctx.error(fmt::format("input 1 'I' is {}, expected int64", ind.describe()));
  if (ind.shape() != x.shape()) {
    return ctx.error(fmt::format("input 1 'I' has shape {}, expected X's shape {}", dims_to_string(ind.shape()),
                                 dims_to_string(x.shape())));
  }
  const size_t n = static_cast<size_t>(x.rank()) - 2;
  const std::vector<int64_t> kernel = ctx.attrs().get_ints("kernel_shape");
  const std::vector<int64_t> strides = ctx.attrs().get_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * n, 0));
  if (kernel.size() != n || strides.size() != n || pads.size() != 2 * n) {
    return ctx.error(fmt::format("kernel_shape, strides and pads have {}, {} and {} values; expected {}, {} and {}",
                                 kernel.size(), strides.size(), pads.size(), n, n, 2 * n));
  }
  Dims inferred = {x.dim(0), x.dim(1)};
  for (size_t i = 0; i < n; ++i) {
    const int64_t o = (x.dim(static_cast<int64_t>(i) + 2) - 1) * strides[i] - pads[i] - pads[i + n] + kernel[i];
    if (o < 0) return ctx.error(fmt::format("spatial axis {}: the unpooled size {} is negative", i, o));
    inferred.push_back(o);
  }
  Dims out_dims = inferred;
  if (const Tensor* os = ctx.input(2)) {
    if (os->dtype() != DataType::kInt64 || os->rank() != 1 || os->numel() != x.rank()) {
      return ctx.error(fmt::format("input 2 'output_shape' is {}, expected int64[{}]", os->describe(), x.rank()));
    }
    out_dims.assign(os->data_as<int64_t>(), os->data_as<int64_t>() + os->numel());
    for (size_t d = 0; d < out_dims.size(); ++d) {
      if (out_dims[d] < inferred[d]) {
        return ctx.error(fmt::format("input 2 'output_shape' is {}, smaller than the unpooled shape {}",
                                     dims_to_string(out_dims), dims_to_string(inferred)));
      }
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));
  if (y->nbytes() > 0) std::memset(y->data(), 0, y->nbytes());  // arena buffers may hold old data
  const int64_t limit = element_count(inferred);
  const int64_t* idx = ind.data_as<int64_t>();
  return dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t flat = idx[i];
      if (flat < 0 || flat >= limit) {
        return ctx.error(fmt::format("input 1 'I' has index {} at position {}, outside [0, {})", flat, i, limit));
      }
      // Re-express the flat index over the unpooled shape as an offset in the output shape.
      int64_t off = 0, mul = 1;
      for (size_t d = inferred.size(); d-- > 0;) {
        off += (flat % inferred[d]) * mul;
        flat /= inferred[d];
        mul *= out_dims[d];
      }
      out[off] = in[i];
    }
    return ok_status();
  });
}

}  // namespace kiln
