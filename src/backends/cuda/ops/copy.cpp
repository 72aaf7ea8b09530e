// Data movement on kernels/copy.h for every fixed-size dtype (elements moved as raw bytes):
// Transpose, Concat, Split, Slice (ranks up to kMaxCopyRank where the kernel walks the dims),
// Gather and Expand (its shape input read in host memory). Output shapes and the checks come from
// the helpers the reference kernels use (ir/ops/tensor/tensor_ops.h), so a malformed node gets the
// reference's message.
//
// Split's sizes and Slice's starts/ends/axes/steps are inputs read in host memory (host_inputs):
// the launch needs them as numbers. Gather's indices stay in device memory (they are data: token
// ids on the way to an embedding table). An index out of range cannot be reported there without a
// device-to-host read and a wait for the stream in the middle of the run, so it is not: the
// kernel writes zeros for it (its bad_index flag is not used). Constant indices are checked when
// the engine is built instead, and a node with one out of range runs the reference, which reports
// it. Along an axis whose length is not known then (the pooler's Gather of token 0 along a
// symbolic sequence axis) they are checked on the host at each run, against the length the run
// has: an empty axis, where even index 0 is out of range, gets the reference's error.
#include <string>

#include "backends/cuda/kernels/copy.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln::cuda {

namespace {

// x (input 0) holds a fixed-size dtype that every output shares, and is no shape arithmetic.
bool moves_bytes(const Node& n) {
  const Value* x = n.input(0);
  if (!x || element_bytes(x->dtype) == 0 || is_shape_arithmetic(x)) return false;
  for (const Value* o : n.outputs()) {
    if (!o || o->dtype != x->dtype) return false;  // device kernels cannot write an omitted output
  }
  return n.num_outputs() > 0;
}

// --- Transpose ---------------------------------------------------------------------------------

bool transpose_supported(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() != 1 || !moves_bytes(n) || !rank_at_most(n.input(0), kMaxCopyRank)) return false;
  return transpose_perm(n.attrs.get_ints("perm"), *known_rank(n.input(0))).ok();
}

class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(const Node& n) : perm_(n.attrs.get_ints("perm")) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    if (x->rank() > kMaxCopyRank) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> perm, with_node_result(ctx, transpose_perm(perm_, x->shape().size())));
    Dims out;
    for (int64_t p : perm) out.push_back(x->dim(p));
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    return launch_status(ctx, transpose(x->data(), y->data(), x->dtype(), x->shape().data(), perm.data(), static_cast<int>(x->rank()),
                                        stream_of(ctx)));
  }

 private:
  std::vector<int64_t> perm_;
};

// --- Concat ------------------------------------------------------------------------------------

bool concat_supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_outputs() != 1 || !moves_bytes(n)) return false;
  for (const Value* v : n.inputs()) {
    if (!v || v->dtype != n.input(0)->dtype) return false;
  }
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank || *rank < 1) return false;
  const int64_t r = static_cast<int64_t>(*rank), axis = n.attrs.get_int("axis", 1);
  return axis >= -r && axis < r;
}

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(const Node& n) : axis_(n.attrs.get_int("axis", 1)) {}

  Status run(KernelContext& ctx) const override {
    const size_t n = ctx.num_inputs();
    if (n == 0 || !ctx.input(0)) return ctx.error("needs at least one input");
    const Tensor& first = *ctx.input(0);
    const int64_t rank = first.rank();
    if (rank == 0) return ctx.error("inputs must have rank >= 1");
    if (axis_ < -rank || axis_ >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis_, rank));
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    Dims out = first.shape();
    out[static_cast<size_t>(axis)] = 0;
    std::vector<const void*> parts(n);
    std::vector<int64_t> lens(n);
    for (size_t i = 0; i < n; ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) return ctx.error(fmt::format("input {} is missing", i));
      if (t->dtype() != first.dtype() || t->rank() != rank) {
        return ctx.error(fmt::format("input {} is {}, which does not match input 0 ({})", i, t->describe(), first.describe()));
      }
      for (int64_t d = 0; d < rank; ++d) {
        if (d != axis && t->dim(d) != first.dim(d)) {
          return ctx.error(fmt::format("input {} is {}, which does not match input 0 ({}) outside axis {}", i, t->describe(),
                                       first.describe(), axis));
        }
      }
      parts[i] = t->data();
      lens[i] = t->dim(axis);
      out[static_cast<size_t>(axis)] += lens[i];
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, first.dtype(), out));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= out[static_cast<size_t>(d)];
    return launch_status(ctx, concat(parts.data(), lens.data(), static_cast<int>(n), y->data(), first.dtype(), outer, inner, stream_of(ctx)));
  }

 private:
  int64_t axis_;
};

// --- Split -------------------------------------------------------------------------------------

bool split_supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_inputs() > 2 || !moves_bytes(n)) return false;
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank || *rank < 1) return false;
  const int64_t r = static_cast<int64_t>(*rank), axis = n.attrs.get_int("axis", 0);
  // Sizes from input 1 are read in host memory: int32 or int64 (the reference's read_int64s).
  if (n.input(1) && n.input(1)->dtype != DataType::kInt64 && n.input(1)->dtype != DataType::kInt32) return false;
  if (!shape_input_plannable(n.input(1))) return false;
  return axis >= -r && axis < r;
}

class SplitKernel final : public Kernel {
 public:
  explicit SplitKernel(const Node& n) : axis_(n.attrs.get_int("axis", 0)), opset_(n.opset) {
    if (opset_ < 13 && n.attrs.has("split")) attr_split_ = n.attrs.get_ints("split");
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    const int64_t rank = x->rank();
    if (rank == 0) return ctx.error("cannot split a scalar");
    if (axis_ < -rank || axis_ >= rank) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis_, rank));
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    // The reference's choice of where the sizes come from.
    std::optional<std::vector<int64_t>> given = attr_split_;
    if (!given && ctx.num_inputs() > 1 && ctx.input(1) && (opset_ >= 13 || opset_ < 2)) {
      KILN_ASSIGN_OR_RETURN(given, ints_input(ctx, 1, "split"));
    }
    const size_t n = ctx.num_outputs();
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, with_node_result(ctx, split_sizes(x->dim(axis), given, n, opset_ >= 18)));
    std::vector<void*> parts(n);
    for (size_t i = 0; i < n; ++i) {
      Dims out = x->shape();
      out[static_cast<size_t>(axis)] = sizes[i];
      KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(i, x->dtype(), out));
      parts[i] = y->data();
    }
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x->dim(d);
    return launch_status(ctx, split(x->data(), parts.data(), sizes.data(), static_cast<int>(n), x->dtype(), outer, inner, stream_of(ctx)));
  }

 private:
  int64_t axis_;
  int opset_;
  std::optional<std::vector<int64_t>> attr_split_;
};

// --- Slice -------------------------------------------------------------------------------------

bool slice_supported(const Node& n) {
  if (n.num_outputs() != 1 || !moves_bytes(n) || !rank_at_most(n.input(0), kMaxCopyRank)) return false;
  if (n.opset < 10) return n.num_inputs() == 1 && n.attrs.has("starts") && n.attrs.has("ends");
  if (n.num_inputs() < 3 || n.num_inputs() > 5 || !n.input(1) || !n.input(2)) return false;
  for (size_t i = 1; i < n.num_inputs(); ++i) {
    const Value* v = n.input(i);
    if (v && v->dtype != DataType::kInt64 && v->dtype != DataType::kInt32) return false;
    if (!shape_input_plannable(v)) return false;
  }
  return true;
}

class SliceKernel final : public Kernel {
 public:
  explicit SliceKernel(const Node& n) : opset_(n.opset) {
    if (opset_ < 10) {
      starts_ = n.attrs.get_ints("starts");
      ends_ = n.attrs.get_ints("ends");
      if (n.attrs.has("axes")) axes_ = n.attrs.get_ints("axes");
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    if (x->rank() > kMaxCopyRank) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    std::vector<int64_t> starts = starts_, ends = ends_;
    std::optional<std::vector<int64_t>> axes = axes_, steps;
    if (opset_ >= 10) {
      KILN_ASSIGN_OR_RETURN(starts, ints_input(ctx, 1, "starts"));
      KILN_ASSIGN_OR_RETURN(ends, ints_input(ctx, 2, "ends"));
      if (ctx.num_inputs() > 3 && ctx.input(3)) {
        KILN_ASSIGN_OR_RETURN(axes, ints_input(ctx, 3, "axes"));
      }
      if (ctx.num_inputs() > 4 && ctx.input(4)) {
        KILN_ASSIGN_OR_RETURN(steps, ints_input(ctx, 4, "steps"));
      }
    }
    KILN_ASSIGN_OR_RETURN(SliceSpec spec, with_node_result(ctx, make_slice_spec(starts, ends, axes, steps, x->rank())));
    // Per dim of x: the first index read and the step (a dim not sliced: from 0 by 1, all of it).
    const size_t rank = x->shape().size();
    Dims out = x->shape();
    int64_t first[kMaxCopyRank] = {}, step[kMaxCopyRank];
    for (size_t d = 0; d < rank; ++d) step[d] = 1;
    for (size_t i = 0; i < spec.axes.size(); ++i) {
      const size_t a = static_cast<size_t>(spec.axes[i]);
      const SliceAxis s = slice_axis(out[a], spec.starts[i], spec.ends[i], spec.steps[i]);
      first[a] = s.start;
      step[a] = s.step;
      out[a] = s.count;
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    return launch_status(ctx, slice(x->data(), x->shape().data(), static_cast<int>(rank), first, step, y->data(), out.data(), x->dtype(),
                                    stream_of(ctx)));
  }

 private:
  int opset_;
  std::vector<int64_t> starts_, ends_;
  std::optional<std::vector<int64_t>> axes_;
};

// --- Gather ------------------------------------------------------------------------------------

bool gather_supported(const Node& n) {
  if (n.num_inputs() != 2 || n.num_outputs() != 1 || !moves_bytes(n) || !n.input(1)) return false;
  const DataType it = n.input(1)->dtype;
  if (it != DataType::kInt64 && it != DataType::kInt32) return false;
  const std::optional<size_t> rank = known_rank(n.input(0));
  if (!rank || *rank < 1) return false;
  const int64_t r = static_cast<int64_t>(*rank);
  int64_t axis = n.attrs.get_int("axis", 0);
  if (axis < -r || axis >= r) return false;
  if (axis < 0) axis += r;
  // Constant indices can be checked now where the axis length is known; one out of range is the
  // reference's error to report. Otherwise the kernel checks them at each run.
  if (std::optional<std::vector<int64_t>> idx = constant_ints(n.input(1))) {
    const int64_t len = known_dim(n.input(0), static_cast<size_t>(axis));
    if (len < 0) return true;
    for (int64_t v : *idx) {
      if (v < -len || v >= len) return false;
    }
  }
  return true;
}

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(const Node& n) : axis_(n.attrs.get_int("axis", 0)) {
    // Only where the build could not check them (gather_supported).
    const std::optional<size_t> rank = known_rank(n.input(0));
    const int64_t axis = rank && axis_ < 0 ? axis_ + static_cast<int64_t>(*rank) : axis_;
    if (!rank || axis < 0 || known_dim(n.input(0), static_cast<size_t>(axis)) < 0) constant_indices_ = constant_ints(n.input(1));
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* data = ctx.input(0);
    const Tensor* ind = ctx.input(1);
    if (!data || !ind) return ctx.error("inputs 0 'data' and 1 'indices' are required");
    const int64_t r = data->rank();
    if (r == 0) return ctx.error("input 0 'data' must have rank >= 1");
    if (axis_ < -r || axis_ >= r) return ctx.error(fmt::format("axis {} is out of range for rank {}", axis_, r));
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    if (constant_indices_) {
      const int64_t len = data->dim(axis);
      for (int64_t v : *constant_indices_) {
        if (v < -len || v >= len) return ctx.error(fmt::format("gather index {} is out of range [{}, {})", v, -len, len));
      }
    }
    const Dims& dd = data->shape();
    Dims out(dd.begin(), dd.begin() + axis);
    out.insert(out.end(), ind->shape().begin(), ind->shape().end());
    out.insert(out.end(), dd.begin() + axis + 1, dd.end());
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, data->dtype(), out));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= data->dim(d);
    for (int64_t d = axis + 1; d < r; ++d) inner *= data->dim(d);
    // bad_index null: see the top of the file.
    return launch_status(ctx, gather(data->data(), ind->data(), ind->dtype(), ind->numel(), y->data(), data->dtype(), outer, data->dim(axis),
                                     inner, nullptr, stream_of(ctx)));
  }

 private:
  int64_t axis_;
  std::optional<std::vector<int64_t>> constant_indices_;  // checked on the host at each run (axis length unknown at build)
};

// --- Expand ------------------------------------------------------------------------------------

// The output's rank must be known (inference knows it when the shape input's length is), and an
// int result of rank 0 or 1 is shape arithmetic, the host's. x may be such a vector (a Range that
// the host computes ahead, expanded to [batch, seq]): it is copied up once per run.
bool expand_supported(const Node& n) {
  const Value* x = n.input(0);
  const Value* shape = n.input(1);
  const Value* y = n.output(0);
  if (n.num_inputs() != 2 || n.num_outputs() != 1 || !x || !shape || !y) return false;
  if (element_bytes(x->dtype) == 0 || y->dtype != x->dtype || is_shape_arithmetic(y)) return false;
  if (shape->dtype != DataType::kInt64 && shape->dtype != DataType::kInt32) return false;
  return shape_input_plannable(shape) && rank_at_most(x, kMaxCopyRank) && rank_at_most(y, kMaxCopyRank);
}

class ExpandKernel final : public Kernel {
 public:
  explicit ExpandKernel(const Node&) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (!x) return ctx.error("needs an input");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ints_input(ctx, 1, "shape"));  // host memory
    for (int64_t v : shape) {
      if (v < 0) return ctx.error(fmt::format("input 1 'shape' has a negative dim {}", v));
    }
    auto b = broadcast_shapes(sym_shape(x->shape()), sym_shape(shape));
    if (!b.ok()) return ctx.error(b.status().message());
    const Dims out = static_dims(*b);
    if (out.size() > static_cast<size_t>(kMaxCopyRank)) return ctx.unsupported_error("ranks above 8 are not supported on cuda");
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    return launch_status(ctx, expand(x->data(), x->shape().data(), static_cast<int>(x->rank()), y->data(), out.data(),
                                     static_cast<int>(out.size()), x->dtype(), stream_of(ctx)));
  }
};

}  // namespace

std::vector<KernelEntry> copy_entries() {
  return {node_entry<TransposeKernel>("", "Transpose", "cuda_transpose", transpose_supported),
          node_entry<ConcatKernel>("", "Concat", "cuda_concat", concat_supported),
          node_entry<SplitKernel>("", "Split", "cuda_split", split_supported, {1}),
          node_entry<SliceKernel>("", "Slice", "cuda_slice", slice_supported, {1, 2, 3, 4}),
          node_entry<GatherKernel>("", "Gather", "cuda_gather", gather_supported),
          node_entry<ExpandKernel>("", "Expand", "cuda_expand", expand_supported, {1})};
}

}  // namespace kiln::cuda
