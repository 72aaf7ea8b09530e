// Split for every dtype (elements moved by size). Output i is, for each of the `outer` rows
// before the axis, one contiguous run of sizes[i] * inner elements of the input row (copy_parts),
// so BERT's fused QKV [1,128,2304] split in three is 128 x 3 memcpy's of 3 KiB. Sizes come from the
// `split` attribute (opset < 13), the `split` input, or equal parts of the output count (the last
// one smaller from opset 18); anything the reference would reject runs the reference, which reports
// it.
#include "backends/cpu/kernels/copy_util.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"

namespace kiln::cpu {

namespace {

class SplitKernel final : public Kernel {
 public:
  explicit SplitKernel(const Node& n) : axis_(n.attrs.get_int("axis", 0)), opset_(n.opset) {
    if (opset_ < 13 && n.attrs.has("split")) {
      attr_split_ = n.attrs.get_ints("split");
      has_attr_split_ = true;
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const size_t es = x ? dtype_size(x->dtype()) : 0;
    if (!x || es == 0 || x->rank() == 0) return ref_split(ctx);
    const int64_t rank = x->rank();
    if (axis_ < -rank || axis_ >= rank) return ref_split(ctx);
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    const size_t n = ctx.num_outputs();
    const int64_t dim = x->dim(axis);
    int64_t* sizes = thread_ints(0, n);
    if (!split_sizes(ctx, dim, n, sizes)) return ref_split(ctx);

    int64_t outer = 1, inner_bytes = static_cast<int64_t>(es);
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < rank; ++d) inner_bytes *= x->dim(d);
    int64_t* part_bytes = thread_ints(1, n);
    void** parts = thread_ptrs(n);
    Dims& out = thread_dims(0);
    out.assign(x->shape().begin(), x->shape().end());
    for (size_t i = 0; i < n; ++i) {
      out[static_cast<size_t>(axis)] = sizes[i];
      KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(i, x->dtype(), out));
      parts[i] = y->data();
      part_bytes[i] = sizes[i] * inner_bytes;
    }
    // The input is read once, front to back; each output is written front to back.
    copy_parts(parts, part_bytes, n, const_cast<void*>(x->data()), outer, /*to_packed=*/false);
    return ok_status();
  }

 private:
  // The chunk sizes as the reference computes them; false where it would report an error.
  bool split_sizes(const KernelContext& ctx, int64_t dim, size_t n, int64_t* sizes) const {
    bool given = false;
    if (has_attr_split_) {
      if (attr_split_.size() != n) return false;
      for (size_t i = 0; i < n; ++i) sizes[i] = attr_split_[i];
      given = true;
    } else if (ctx.num_inputs() > 1 && ctx.has_input(1) && (opset_ >= 13 || opset_ < 2)) {
      const Tensor& s = *ctx.input(1);
      if (s.numel() != static_cast<int64_t>(n)) return false;
      if (s.dtype() == DataType::kInt64) {
        for (size_t i = 0; i < n; ++i) sizes[i] = s.data_as<int64_t>()[i];
      } else if (s.dtype() == DataType::kInt32) {
        for (size_t i = 0; i < n; ++i) sizes[i] = s.data_as<int32_t>()[i];
      } else {
        return false;
      }
      given = true;
    }
    if (given) {
      int64_t sum = 0;
      for (size_t i = 0; i < n; ++i) {
        if (sizes[i] < 0) return false;
        sum += sizes[i];
      }
      return sum == dim;
    }
    if (n == 0) return false;
    const int64_t parts = static_cast<int64_t>(n);
    // Equal parts; from opset 18 an uneven axis gives the last part what is left.
    const int64_t chunk =
        dim % parts == 0 ? dim / parts : (opset_ >= 18 ? (dim + parts - 1) / parts : -1);
    if (chunk < 0) return false;
    for (size_t i = 0; i < n; ++i) sizes[i] = chunk;
    sizes[n - 1] = dim - chunk * (parts - 1);
    return sizes[n - 1] >= 0;
  }

  int64_t axis_;
  int opset_;
  bool has_attr_split_ = false;
  std::vector<int64_t> attr_split_;
};

}  // namespace

KernelEntry split_entry() {
  KernelEntry e;
  e.op_type = "Split";
  e.name = "cpu_split";
  e.supports = [](const Node& n) { return n.input(0) && dtype_size(n.input(0)->dtype) != 0; };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<SplitKernel>(n));
  };
  return e;
}

}  // namespace kiln::cpu
