#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "backends/reference/ref_util.h"
#include "core/dispatch.h"

namespace kiln {

// Output [rank, count] int64, in row-major order; a scalar is treated as rank 1 like numpy.
Status ref_non_zero(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  std::vector<bool> nz(static_cast<size_t>(x.numel()));
  KILN_RETURN_IF_ERROR(dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data_as<T>();
    for (size_t i = 0; i < nz.size(); ++i) nz[i] = static_cast<compute_t<T>>(p[i]) != compute_t<T>(0);
    return ok_status();
  }));
  int64_t count = 0;
  for (bool b : nz) count += b ? 1 : 0;
  const Dims dims = x.rank() == 0 ? Dims{1} : x.shape();
  const int64_t rank = static_cast<int64_t>(dims.size());
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, DataType::kInt64, {rank, count}));
  int64_t* o = out->data_as<int64_t>();
  int64_t j = 0;
  for_each_index(dims, [&](int64_t lin, const std::vector<int64_t>& pos) {
    if (!nz[static_cast<size_t>(lin)]) return;
    for (int64_t d = 0; d < rank; ++d) o[d * count + j] = pos[static_cast<size_t>(d)];
    ++j;
  });
  return ok_status();
}

}  // namespace kiln
