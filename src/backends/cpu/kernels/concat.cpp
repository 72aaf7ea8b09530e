// Concat for every dtype (elements moved by size): each output row (the dims before the axis) is
// the inputs' rows one after another (copy_parts), written front to back. Inputs the reference
// would reject run the reference.
#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"

namespace kiln::cpu {

namespace {

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(const Node& n) : axis_(n.attrs.get_int("axis", 1)) {}

  Status run(KernelContext& ctx) const override {
    const size_t n = ctx.num_inputs();
    const Tensor* first = n > 0 ? ctx.input(0) : nullptr;
    const size_t es = first ? dtype_size(first->dtype()) : 0;
    if (!first || es == 0 || first->rank() == 0) return ref_concat(ctx);
    const int64_t rank = first->rank();
    if (axis_ < -rank || axis_ >= rank) return ref_concat(ctx);
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const Tensor* t = ctx.input(i);
      if (!t || t->dtype() != first->dtype() || t->rank() != rank) return ref_concat(ctx);
      for (int64_t d = 0; d < rank; ++d) {
        if (d != axis && t->dim(d) != first->dim(d)) return ref_concat(ctx);
      }
      total += t->dim(axis);
    }
    Dims& out = thread_dims(0);
    out.assign(first->shape().begin(), first->shape().end());
    out[static_cast<size_t>(axis)] = total;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, first->dtype(), out));
    int64_t outer = 1, inner_bytes = static_cast<int64_t>(es);
    for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner_bytes *= out[static_cast<size_t>(d)];
    int64_t* part_bytes = thread_ints(0, n);
    void** parts = thread_ptrs(n);
    for (size_t i = 0; i < n; ++i) {
      parts[i] = const_cast<void*>(ctx.input(i)->data());  // only read
      part_bytes[i] = ctx.input(i)->dim(axis) * inner_bytes;
    }
    copy_parts(parts, part_bytes, n, y->data(), outer, /*to_packed=*/true);
    return ok_status();
  }

 private:
  int64_t axis_;
};

}  // namespace

KernelEntry concat_entry() {
  KernelEntry e;
  e.op_type = "Concat";
  e.name = "cpu_concat";
  e.supports = [](const Node& n) { return n.input(0) && dtype_size(n.input(0)->dtype) != 0; };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<ConcatKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
