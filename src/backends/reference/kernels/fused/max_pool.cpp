// kiln.MaxPool: ONNX MaxPool's reference kernel on a channels-first copy of X, its result
// permuted back when channels_last = 1 (a copy each way: this is the oracle, not the fast path).
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/shape.h"

namespace kiln {

namespace {

// Presents a channels-last node to a channels-first kernel: input 0 is a permuted copy and
// output 0 is written to a tensor of its own, which the caller permutes back.
class ChannelsFirstContext final : public KernelContext {
 public:
  ChannelsFirstContext(KernelContext& base, Tensor x) : base_(base), x_(std::move(x)) {}
  const Node& node() const override { return base_.node(); }
  size_t num_inputs() const override { return base_.num_inputs(); }
  const Tensor* input(size_t i) const override { return i == 0 ? &x_ : base_.input(i); }
  size_t num_outputs() const override { return 1; }
  Result<Tensor*> allocate_output(size_t i, DataType dtype, const Dims& dims) override {
    if (i != 0) return base_.error(fmt::format("output {} does not exist", i));
    KILN_ASSIGN_OR_RETURN(y_, Tensor::allocate(dtype, dims));
    return &y_;
  }
  Result<std::vector<Tensor>> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) override {
    return base_.run_subgraph(g, inputs);
  }
  const Tensor& result() const { return y_; }

 private:
  KernelContext& base_;
  Tensor x_, y_;
};

}  // namespace

Status ref_kiln_max_pool(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  if (ctx.attrs().get_int("channels_last", 0) != 1) return ref_max_pool(ctx);
  if (x->rank() < 3) return ctx.error(fmt::format("input 0 'X' {} must have rank >= 3 (N, spatial..., C)", x->describe()));
  const std::vector<int64_t> to_first = to_channels_first_perm(x->rank());
  KILN_ASSIGN_OR_RETURN(Tensor x_cf, Tensor::allocate(x->dtype(), permuted_shape(x->shape(), to_first)));
  transpose_elements(x->data(), x->shape(), dtype_size(x->dtype()), x_cf.data(), to_first);
  ChannelsFirstContext cf(ctx, std::move(x_cf));
  KILN_RETURN_IF_ERROR(ref_max_pool(cf));
  const Tensor& y = cf.result();
  KILN_ASSIGN_OR_RETURN(Tensor * out, ctx.allocate_output(0, y.dtype(), channels_last_shape(y.shape())));
  transpose_elements(y.data(), y.shape(), dtype_size(y.dtype()), out->data(), to_channels_last_perm(y.rank()));
  return ok_status();
}

}  // namespace kiln
