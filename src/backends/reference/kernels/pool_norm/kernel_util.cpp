#include "backends/reference/kernels/pool_norm/kernel_util.h"

#include "core/dispatch.h"
#include "fmt/format.h"

namespace kiln {

Result<std::vector<double>> read_float_input(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return ctx.error(fmt::format("input {} '{}' is missing", i, what));
  std::vector<double> v(static_cast<size_t>(std::max<int64_t>(t->numel(), 0)));
  Status s = dispatch_float(t->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t->data_as<T>();
    for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<double>(static_cast<compute_t<T>>(p[k]));
    return ok_status();
  });
  if (!s.ok()) return ctx.error(fmt::format("input {} '{}': {}", i, what, s.message()));
  return v;
}

Status write_float_output(KernelContext& ctx, size_t i, DataType dtype, const Dims& dims, const std::vector<double>& v) {
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(i, dtype, dims));
  if (static_cast<size_t>(out->numel()) != v.size()) {
    return ctx.error(fmt::format("output {} has {} elements, expected {}", i, out->numel(), v.size()));
  }
  return dispatch_float(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out->data_as<T>();
    for (size_t k = 0; k < v.size(); ++k) p[k] = static_cast<T>(static_cast<compute_t<T>>(v[k]));
    return ok_status();
  });
}

Result<PoolPlan> make_pool_plan(const KernelContext& ctx, const Tensor& x) {
  if (x.rank() < 3) return ctx.error(fmt::format("input 0 has shape {}, expected rank 3 or more [N, C, spatial...]", dims_to_string(x.shape())));
  PoolPlan p;
  p.in_spatial.assign(x.shape().begin() + 2, x.shape().end());
  auto g = pool_geometry(ctx.attrs(), p.in_spatial);
  if (!g.ok()) return ctx.error(g.status().message());
  p.g = std::move(g).value();
  p.out_spatial = p.g.out;
  p.out_dims = {x.dim(0), x.dim(1)};
  p.out_dims.insert(p.out_dims.end(), p.out_spatial.begin(), p.out_spatial.end());
  p.planes = x.dim(0) * x.dim(1);
  p.in_plane = element_count(p.in_spatial);
  p.out_plane = element_count(p.out_spatial);
  return p;
}

void build_taps(PoolPlan& p) {
  if (element_count(p.out_dims) <= 0) return;  // no windows to walk
  p.taps.resize(p.in_spatial.size());
  for (size_t d = 0; d < p.in_spatial.size(); ++d) {
    const int64_t dil = p.g.dilations[d];
    p.taps[d].resize(static_cast<size_t>(p.out_spatial[d]));
    for (int64_t o = 0; o < p.out_spatial[d]; ++o) {
      const int64_t start = o * p.g.strides[d] - p.g.pad_begin[d];
      // First tap j0 with start + j0*dil >= 0, last tap j1 with start + j1*dil < in.
      const int64_t j0 = start >= 0 ? 0 : (-start + dil - 1) / dil;
      const int64_t last = p.in_spatial[d] - 1 - start;  // taps need j * dil <= last
      const int64_t j1 = last < 0 ? -1 : std::min(p.g.kernel[d] - 1, last / dil);
      const int64_t count = std::max<int64_t>(0, j1 - j0 + 1);
      p.taps[d][static_cast<size_t>(o)] = {start + j0 * dil, count};
    }
  }
}

}  // namespace kiln
