// Transpose for every dtype (elements moved by size): the output is the input viewed with
// permuted strides, copied by strided_copy (copy_util.h), which collapses the dims the
// permutation keeps together. So 0213 on [B,S,H,D] is rows of D elements, 0231 (NCHW to NHWC) and
// 0312 (NHWC to NCHW) are batched 2-D transposes in cache blocks, and 2-D is one blocked transpose.
#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"

namespace kiln::cpu {

namespace {

class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(const Node& n) : perm_(n.attrs.get_ints("perm")) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const size_t es = x ? dtype_size(x->dtype()) : 0;
    const int rank = x ? static_cast<int>(x->rank()) : 0;
    if (!x || es == 0 || rank > kMaxCopyRank) return ref_transpose(ctx);
    int64_t perm[kMaxCopyRank];
    if (perm_.empty()) {
      for (int d = 0; d < rank; ++d) perm[d] = rank - 1 - d;
    } else {
      // A perm that does not fit the rank is the reference's to report.
      if (perm_.size() != static_cast<size_t>(rank)) return ref_transpose(ctx);
      bool seen[kMaxCopyRank] = {};
      for (int d = 0; d < rank; ++d) {
        int64_t p = perm_[static_cast<size_t>(d)];
        if (p < -rank || p >= rank) return ref_transpose(ctx);
        if (p < 0) p += rank;
        if (seen[p]) return ref_transpose(ctx);
        seen[p] = true;
        perm[d] = p;
      }
    }
    int64_t in_strides[kMaxCopyRank];
    contiguous_strides(x->shape().data(), rank, in_strides);
    StridedView view;
    view.rank = rank;
    Dims& out = thread_dims(0);
    out.resize(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
      view.dims[d] = out[static_cast<size_t>(d)] = x->dim(perm[d]);
      view.strides[d] = in_strides[perm[d]];
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    strided_copy(x->data(), view, es, y->data());
    return ok_status();
  }

 private:
  std::vector<int64_t> perm_;
};

}  // namespace

KernelEntry transpose_entry() {
  KernelEntry e;
  e.op_type = "Transpose";
  e.name = "cpu_transpose";
  e.supports = [](const Node& n) {
    const Value* x = n.input(0);
    if (!x || dtype_size(x->dtype) == 0) return false;
    return !x->shape || x->shape->size() <= static_cast<size_t>(kMaxCopyRank);
  };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<TransposeKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
