// Slice for every dtype (elements moved by size): the output is the input viewed from the first
// selected element with strides multiplied by the steps (negative for reversed axes), copied by
// strided_copy (copy_util.h): rows of memcpy when the last axis has step 1, a strided element
// loop otherwise. starts/ends/axes/steps are read without allocating; anything the reference
// would reject runs the reference, which reports it.
#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln::cpu {

namespace {

// A small int operand (input or attribute): at most kMaxCopyRank values.
struct Ints {
  int64_t v[kMaxCopyRank];
  size_t n = 0;
  bool present = false;
};

bool read_input(const KernelContext& ctx, size_t i, Ints& out) {
  if (ctx.num_inputs() <= i || !ctx.has_input(i)) return true;  // absent: defaults
  const Tensor& t = *ctx.input(i);
  if (t.numel() > kMaxCopyRank) return false;
  out.n = static_cast<size_t>(t.numel());
  out.present = true;
  if (t.dtype() == DataType::kInt64) {
    for (size_t k = 0; k < out.n; ++k) out.v[k] = t.data_as<int64_t>()[k];
  } else if (t.dtype() == DataType::kInt32) {
    for (size_t k = 0; k < out.n; ++k) out.v[k] = t.data_as<int32_t>()[k];
  } else {
    return false;
  }
  return true;
}

bool from_attr(const std::vector<int64_t>& a, bool present, Ints& out) {
  if (a.size() > static_cast<size_t>(kMaxCopyRank)) return false;
  out.present = present;
  out.n = a.size();
  for (size_t k = 0; k < out.n; ++k) out.v[k] = a[k];
  return true;
}

class SliceKernel final : public Kernel {
 public:
  explicit SliceKernel(const Node& n) : opset_(n.opset) {
    if (opset_ < 10) {
      has_starts_ = n.attrs.has("starts");
      has_ends_ = n.attrs.has("ends");
      has_axes_ = n.attrs.has("axes");
      starts_ = n.attrs.get_ints("starts");
      ends_ = n.attrs.get_ints("ends");
      axes_ = n.attrs.get_ints("axes");
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const size_t es = x ? dtype_size(x->dtype()) : 0;
    if (!x || es == 0 || x->rank() > kMaxCopyRank) return ref_slice(ctx);
    const int rank = static_cast<int>(x->rank());
    Ints starts, ends, axes, steps;
    if (opset_ < 10) {
      if (!has_starts_ || !has_ends_ || !from_attr(starts_, true, starts) ||
          !from_attr(ends_, true, ends) || !from_attr(axes_, has_axes_, axes)) {
        return ref_slice(ctx);
      }
    } else if (ctx.num_inputs() < 3 || !ctx.has_input(1) || !ctx.has_input(2) ||
               !read_input(ctx, 1, starts) || !read_input(ctx, 2, ends) ||
               !read_input(ctx, 3, axes) || !read_input(ctx, 4, steps)) {
      return ref_slice(ctx);
    }
    // make_slice_spec's checks, without its vectors.
    const size_t n = starts.n;
    if (ends.n != n || (axes.present && axes.n != n) || (steps.present && steps.n != n))
      return ref_slice(ctx);
    if (!axes.present && n > static_cast<size_t>(rank)) return ref_slice(ctx);
    int64_t in_strides[kMaxCopyRank];
    contiguous_strides(x->shape().data(), rank, in_strides);
    StridedView view;
    view.rank = rank;
    for (int d = 0; d < rank; ++d) {
      view.dims[d] = x->dim(d);
      view.strides[d] = in_strides[d];
    }
    bool seen[kMaxCopyRank] = {};
    int64_t offset = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t a = axes.present ? axes.v[i] : static_cast<int64_t>(i);
      if (a < -rank || a >= rank) return ref_slice(ctx);
      if (a < 0) a += rank;
      if (seen[a]) return ref_slice(ctx);
      seen[a] = true;
      const int64_t step = steps.present ? steps.v[i] : 1;
      if (step == 0) return ref_slice(ctx);
      const SliceAxis s = slice_axis(x->dim(a), starts.v[i], ends.v[i], step);
      view.dims[a] = s.count;
      view.strides[a] = in_strides[a] * s.step;
      offset += s.start * in_strides[a];
    }
    Dims& out = thread_dims(0);
    out.assign(view.dims, view.dims + rank);
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    if (y->numel() == 0) return ok_status();
    strided_copy(static_cast<const unsigned char*>(x->data()) + offset * static_cast<int64_t>(es),
                 view, es, y->data());
    return ok_status();
  }

 private:
  int opset_;
  bool has_starts_ = false, has_ends_ = false, has_axes_ = false;
  std::vector<int64_t> starts_, ends_, axes_;
};

}  // namespace

KernelEntry slice_entry() {
  KernelEntry e;
  e.op_type = "Slice";
  e.name = "cpu_slice";
  e.supports = [](const Node& n) {
    const Value* x = n.input(0);
    if (!x || dtype_size(x->dtype) == 0) return false;
    return !x->shape || x->shape->size() <= static_cast<size_t>(kMaxCopyRank);
  };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<SliceKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
