#include <cstring>

#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"

namespace kiln {

Status ref_concat(KernelContext& ctx) {
  const size_t n = ctx.num_inputs();
  if (n == 0 || !ctx.input(0)) return ctx.error("needs at least one input");
  const Tensor& first = *ctx.input(0);
  const int64_t rank = first.rank();
  if (rank == 0) return ctx.error("inputs must have rank >= 1");
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -rank || axis >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  Dims out = first.shape();
  out[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < n; ++i) {
    const Tensor* t = ctx.input(i);
    if (!t) return ctx.error(fmt::format("input {} is missing", i));
    if (t->dtype() != first.dtype() || t->rank() != rank) {
      return ctx.error(fmt::format("input {} is {}, which does not match input 0 ({})", i, t->describe(), first.describe()));
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && t->dim(d) != first.dim(d)) {
        return ctx.error(fmt::format("input {} is {}, which does not match input 0 ({}) outside axis {}", i,
                                     t->describe(), first.describe(), axis));
      }
    }
    out[static_cast<size_t>(axis)] += t->dim(axis);
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, first.dtype(), out));
  const size_t esize = dtype_size(first.dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= out[static_cast<size_t>(d)];
  auto* dst = static_cast<unsigned char*>(y->data());
  // Each outer row of the output is the inputs' rows one after another.
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < n; ++i) {
      const Tensor& t = *ctx.input(i);
      const size_t chunk = static_cast<size_t>(t.dim(axis) * inner) * esize;
      if (chunk == 0) continue;
      std::memcpy(dst, static_cast<const unsigned char*>(t.data()) + static_cast<size_t>(o) * chunk, chunk);
      dst += chunk;
    }
  }
  return ok_status();
}

}  // namespace kiln
