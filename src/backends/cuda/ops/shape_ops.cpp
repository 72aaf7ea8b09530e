// The ops that keep a tensor's elements and change (at most) its shape: Reshape, Flatten,
// Squeeze, Unsqueeze, Identity and Dropout (inference), for every fixed-size dtype. The output
// shape is computed as the reference computes it (ir/ops/tensor/tensor_ops.h); the elements move
// by one device-to-device copy on the context's stream. Each kernel names input 0 as the buffer
// its output may take over, so where nothing reads the input afterwards the planner gives both
// one buffer and the copy is skipped. Shape and axes inputs are read in host memory.
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "backends/reference/kernels/pool_norm/kernel_util.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "fmt/format.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln::cuda {

namespace {

// Input 0 holds a fixed-size dtype that output 0 shares and is no shape arithmetic; the other
// inputs (shapes, axes) are ints read in host memory.
bool keeps_elements(const Node& n, size_t max_inputs) {
  const Value* x = n.input(0);
  if (!x || !n.output(0) || element_bytes(x->dtype) == 0 || n.output(0)->dtype != x->dtype || is_shape_arithmetic(x)) return false;
  return n.num_inputs() <= max_inputs;
}

// Input i (a shape or axes) is absent, or ints whose values are known when a run is planned.
bool int_input_or_absent(const Node& n, size_t i) {
  const Value* v = n.input(i);
  return !v || ((v->dtype == DataType::kInt64 || v->dtype == DataType::kInt32) && shape_input_plannable(v));
}

// A kernel whose output 0 holds input 0's elements in the same order.
class ShapeKernel : public Kernel {
 public:
  int inplace_input() const override { return 0; }
};

// --- Reshape -----------------------------------------------------------------------------------

class ReshapeKernel final : public ShapeKernel {
 public:
  explicit ReshapeKernel(const Node& n) : opset_(n.opset), allowzero_(n.opset >= 14 && n.attrs.get_int("allowzero", 0) != 0) {
    if (opset_ < 5) shape_ = n.attrs.get_ints("shape");
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    std::vector<int64_t> shape = shape_;
    if (opset_ >= 5) {
      KILN_ASSIGN_OR_RETURN(shape, ints_input(ctx, 1, "shape"));  // host memory
    }
    KILN_ASSIGN_OR_RETURN(SymShape out, with_node_result(ctx, reshape_output_shape(sym_shape(x->shape()), shape, allowzero_)));
    return copy_into_output(ctx, 0, *x, static_dims(out));
  }

 private:
  int opset_;
  bool allowzero_;
  std::vector<int64_t> shape_;
};

bool reshape_supported(const Node& n) {
  if (!keeps_elements(n, n.opset < 5 ? 1 : 2) || n.num_outputs() != 1) return false;
  return n.opset < 5 ? n.attrs.has("shape") : (n.input(1) && int_input_or_absent(n, 1));
}

// --- Flatten -----------------------------------------------------------------------------------

class FlattenKernel final : public ShapeKernel {
 public:
  explicit FlattenKernel(const Node& n) : axis_(n.attrs.get_int("axis", 1)) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    const int64_t rank = x->rank();
    if (axis_ < -rank || axis_ > rank) return ctx.error(fmt::format("axis {} is out of range for rank {} (expected [-r, r])", axis_, rank));
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? a : b) *= x->dim(i);
    return copy_into_output(ctx, 0, *x, {a, b});
  }

 private:
  int64_t axis_;
};

bool flatten_supported(const Node& n) { return keeps_elements(n, 1) && n.num_outputs() == 1; }

// --- Squeeze -----------------------------------------------------------------------------------

class SqueezeKernel final : public ShapeKernel {
 public:
  explicit SqueezeKernel(const Node& n) : opset_(n.opset) {
    if (opset_ < 13 && n.attrs.has("axes")) axes_ = n.attrs.get_ints("axes");
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    std::optional<std::vector<int64_t>> axes = axes_;
    if (opset_ >= 13 && ctx.num_inputs() > 1 && ctx.input(1)) {
      KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 1, "axes"));
    }
    Dims out;
    if (!axes) {
      for (int64_t d : x->shape()) {
        if (d != 1) out.push_back(d);
      }
    } else {
      KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(*axes, x->rank())));
      size_t k = 0;
      for (int64_t i = 0; i < x->rank(); ++i) {
        if (k < na.size() && na[k] == i) {
          ++k;
          if (x->dim(i) != 1) return ctx.error(fmt::format("cannot squeeze axis {} of size {}", i, x->dim(i)));
          continue;
        }
        out.push_back(x->dim(i));
      }
    }
    return copy_into_output(ctx, 0, *x, out);
  }

 private:
  int opset_;
  std::optional<std::vector<int64_t>> axes_;
};

bool squeeze_supported(const Node& n) { return keeps_elements(n, 2) && n.num_outputs() == 1 && int_input_or_absent(n, 1); }

// --- Unsqueeze ---------------------------------------------------------------------------------

class UnsqueezeKernel final : public ShapeKernel {
 public:
  explicit UnsqueezeKernel(const Node& n) : opset_(n.opset) {
    if (opset_ < 13) axes_ = n.attrs.get_ints("axes");
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    std::vector<int64_t> axes = axes_;
    if (opset_ >= 13) {
      KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 1, "axes"));
    }
    const int64_t out_rank = x->rank() + static_cast<int64_t>(axes.size());
    KILN_ASSIGN_OR_RETURN(auto na, with_node_result(ctx, normalize_axes(axes, out_rank)));
    Dims out;
    size_t k = 0;
    int64_t j = 0;
    for (int64_t i = 0; i < out_rank; ++i) {
      if (k < na.size() && na[k] == i) {
        out.push_back(1);
        ++k;
      } else {
        out.push_back(x->dim(j++));
      }
    }
    return copy_into_output(ctx, 0, *x, out);
  }

 private:
  int opset_;
  std::vector<int64_t> axes_;
};

bool unsqueeze_supported(const Node& n) {
  if (!keeps_elements(n, n.opset < 13 ? 1 : 2) || n.num_outputs() != 1) return false;
  return n.opset < 13 ? n.attrs.has("axes") : (n.input(1) && int_input_or_absent(n, 1));
}

// --- Identity ----------------------------------------------------------------------------------

class IdentityKernel final : public ShapeKernel {
 public:
  explicit IdentityKernel(const Node&) {}
  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("input 0 is required");
    return copy_into_output(ctx, 0, *x, x->shape());
  }
};

bool identity_supported(const Node& n) { return keeps_elements(n, 1) && n.num_outputs() == 1; }

// --- Dropout -----------------------------------------------------------------------------------
// Inference: y = x. The mask output, when something reads it, is all true: bool from opset 10
// (one memset of 1s); before that it has x's dtype, whose 1 is no byte pattern, and runs the
// reference. training_mode (opset 12 on) and ratio are read in host memory and checked as the
// reference checks them.

class DropoutKernel final : public ShapeKernel {
 public:
  // The mask the node has: written when bool, else only allocated (the runtime wants every output
  // of a node; nothing reads this one, dropout_supported made sure).
  explicit DropoutKernel(const Node& n) : opset_(n.opset), mask_(n.output(1) ? n.output(1)->dtype : DataType::kUndefined) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    if (opset_ >= 12 && ctx.num_inputs() > 2 && ctx.input(2)) {
      const Tensor& t = *ctx.input(2);
      if (t.dtype() != DataType::kBool || t.numel() != 1) {
        return ctx.error(fmt::format("input 2 'training_mode' is {}, expected a bool scalar", t.describe()));
      }
      if (*t.data_as<bool>()) {
        double ratio = 0.5;
        if (ctx.input(1)) {
          KILN_ASSIGN_OR_RETURN(std::vector<double> r, read_float_input(ctx, 1, "ratio"));
          if (r.size() != 1) return ctx.error(fmt::format("input 1 'ratio' has {} values, expected a scalar", r.size()));
          ratio = r[0];
        }
        if (ratio != 0) return ctx.unsupported_error("training_mode is true with a nonzero ratio: random dropout is not supported");
      }
    }
    KILN_RETURN_IF_ERROR(copy_into_output(ctx, 0, *x, x->shape()));
    if (mask_ == DataType::kUndefined || ctx.num_outputs() < 2) return ok_status();
    KILN_ASSIGN_OR_RETURN(Tensor * mask, ctx.allocate_output(1, mask_, x->shape()));
    if (mask_ != DataType::kBool || mask->nbytes() == 0) return ok_status();
    return launch_status(ctx, cudaMemsetAsync(mask->data(), 1, mask->nbytes(), stream_of(ctx)));
  }

 private:
  int opset_;
  DataType mask_;
};

bool dropout_supported(const Node& n) {
  if (!keeps_elements(n, 3) || n.num_outputs() > 2) return false;
  const Value* mask = n.output(1);
  if (mask && (n.opset < 10 || mask->dtype != DataType::kBool)) return output_unused(n, 1);
  return true;
}

}  // namespace

std::vector<KernelEntry> shape_op_entries() {
  return {node_entry<ReshapeKernel>("", "Reshape", "cuda_reshape", reshape_supported, {1}),
          node_entry<FlattenKernel>("", "Flatten", "cuda_flatten", flatten_supported),
          node_entry<SqueezeKernel>("", "Squeeze", "cuda_squeeze", squeeze_supported, {1}),
          node_entry<UnsqueezeKernel>("", "Unsqueeze", "cuda_unsqueeze", unsqueeze_supported, {1}),
          node_entry<IdentityKernel>("", "Identity", "cuda_identity", identity_supported),
          node_entry<DropoutKernel>("", "Dropout", "cuda_dropout", dropout_supported, {1, 2})};
}

}  // namespace kiln::cuda
