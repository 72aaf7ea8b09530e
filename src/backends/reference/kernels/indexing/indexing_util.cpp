#include <algorithm>

#include "backends/reference/kernels/indexing/indexing_kernels.h"
#include "fmt/format.h"

namespace kiln::indexing {

Result<std::vector<int64_t>> read_indices(const KernelContext& ctx, size_t input, const char* name) {
  const Tensor* t = ctx.input(input);
  if (!t) return ctx.error(fmt::format("input {} '{}' is missing", input, name));
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(t->numel(), 0)));
  if (t->dtype() == DataType::kInt64) {
    std::copy_n(t->data_as<int64_t>(), v.size(), v.begin());
  } else if (t->dtype() == DataType::kInt32) {
    std::copy_n(t->data_as<int32_t>(), v.size(), v.begin());
  } else {
    return ctx.error(fmt::format("input {} '{}' has dtype {}, expected int32 or int64", input, name,
                                 dtype_name(t->dtype())));
  }
  return v;
}

Status normalize_index(const KernelContext& ctx, int64_t& idx, int64_t n, const char* what) {
  if (idx < -n || idx >= n) {
    return ctx.error(fmt::format("{} index {} is out of range [{}, {})", what, idx, -n, n));
  }
  if (idx < 0) idx += n;
  return ok_status();
}

int64_t dim_product(const Dims& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) p *= dims[i];
  return p;
}

}  // namespace kiln::indexing
