#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {

Result<std::vector<int64_t>> ints_input(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (!t) return ctx.error(fmt::format("input {} '{}' is required", i, name));
  auto r = read_int64s(*t);
  if (!r.ok()) return ctx.error(fmt::format("input {} '{}': {}", i, name, r.status().message()));
  return r;
}

Result<const Tensor*> required_input(const KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (!t) return ctx.error(fmt::format("input {} '{}' is required", i, name));
  return t;
}

void gather_by_axis_maps(const void* in, const Dims& in_dims, size_t esize, void* out, const Dims& out_dims,
                         const std::vector<std::vector<int64_t>>& maps, const void* fill) {
  const std::vector<int64_t> strides = contiguous_strides(in_dims);
  // Per axis, the input element offset of each output coordinate (-1: fill).
  std::vector<std::vector<int64_t>> offs(out_dims.size());
  for (size_t d = 0; d < out_dims.size(); ++d) {
    offs[d].resize(static_cast<size_t>(out_dims[d]));
    for (size_t c = 0; c < offs[d].size(); ++c) {
      const int64_t m = maps[d][c];
      offs[d][c] = m < 0 ? -1 : m * strides[d];
    }
  }
  const auto* src = static_cast<const unsigned char*>(in);
  auto* dst = static_cast<unsigned char*>(out);
  for_each_index(out_dims, [&](int64_t lin, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    bool filled = false;
    for (size_t d = 0; d < idx.size(); ++d) {
      const int64_t o = offs[d][static_cast<size_t>(idx[d])];
      if (o < 0) {
        filled = true;
        break;
      }
      off += o;
    }
    unsigned char* p = dst + static_cast<size_t>(lin) * esize;
    if (!filled) std::memcpy(p, src + static_cast<size_t>(off) * esize, esize);
    else if (fill) std::memcpy(p, fill, esize);
    else std::memset(p, 0, esize);
  });
}

void transpose_elements(const void* in, const Dims& in_dims, size_t esize, void* out,
                        const std::vector<int64_t>& perm) {
  const std::vector<int64_t> in_strides = contiguous_strides(in_dims);
  Dims out_dims;
  std::vector<int64_t> strides;  // input stride of each output axis
  for (int64_t p : perm) {
    out_dims.push_back(in_dims[static_cast<size_t>(p)]);
    strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  const auto* src = static_cast<const unsigned char*>(in);
  auto* dst = static_cast<unsigned char*>(out);
  for_each_index(out_dims, [&](int64_t lin, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * strides[d];
    std::memcpy(dst + static_cast<size_t>(lin) * esize, src + static_cast<size_t>(off) * esize, esize);
  });
}

Status copy_with_shape(KernelContext& ctx, const Tensor& x, const Dims& dims) {
  if (element_count(dims) != x.numel()) {
    return ctx.error(fmt::format("cannot view {} as {}", x.describe(), dims_to_string(dims)));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), dims));
  if (x.nbytes() && y->data() != x.data()) std::memcpy(y->data(), x.data(), x.nbytes());
  return ok_status();
}

}  // namespace kiln
