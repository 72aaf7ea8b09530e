// kiln.FusedConv with channels_last = 1 (X, Z and Y are N×H×W×C) on cuDNN's graph API
// (libs/cudnn_conv.h): the convolution with its bias, activation, residual and post-activation in
// one cuDNN graph where cuDNN has an engine for it; where it has none (cuDNN's fused engines do not
// cover every dtype and shape), the convolution alone and then the epilogue as kiln's pointwise
// kernels, so a layer never fails for want of a fused engine. Weights are W [M, C/g, kh, kw]
// (ONNX's OIHW) constants; cuDNN takes them as KRSC, made once on the device per kernel by a
// transpose of the engine's device copy. float32 uses TF32 tensor cores when the node's precision is "tf32" (the
// builder's default; --no-tf32 keeps exact fp32 products).
#include <map>
#include <mutex>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/copy.h"
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/libs/cudnn_conv.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/linalg/conv_util.h"
#include "ir/shape.h"

namespace kiln::cuda {

namespace {

constexpr size_t kSpatial = 2;

bool supported(const Node& n) {
  if (n.attrs.get_int("channels_last", 0) != 1) return false;
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  if (!x || !w || !w->constant || !x->shape || x->shape->size() != 4 || w->constant->rank() != 4) return false;
  if (!is_kernel_float(x->dtype)) return false;
  for (size_t i = 0; i < n.num_inputs(); ++i) {
    if (n.input(i) && n.input(i)->dtype != x->dtype) return false;
  }
  if (n.num_inputs() > 2 && n.input(2) && !(n.input(2)->shape && n.input(2)->shape->size() == 1)) return false;
  auto act = read_activation_attr(n.attrs, "activation");
  auto post = read_activation_attr(n.attrs, "post_activation");
  if (!act.ok() || !post.ok()) return false;
  auto p = read_conv_params(n.attrs, kSpatial, {w->constant->dim(2), w->constant->dim(3)}, false);
  return p.ok() && p->group >= 1 && w->constant->dim(0) % p->group == 0;
}

struct ThreadResources {
  cudnnHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  // Workspaces outgrown on this thread, freed with it: a CUDA graph an ExecutionContext captured
  // on this thread still holds their addresses (the runtime replays a graph only on the thread
  // that captured it).
  std::vector<void*> retired;
  ~ThreadResources() {
    if (workspace) cudaFree(workspace);
    for (void* p : retired) cudaFree(p);
    if (handle) cudnnDestroy(handle);
  }
};

Result<ThreadResources*> thread_resources(size_t workspace_bytes) {
  thread_local ThreadResources r;
  if (!r.handle && cudnnCreate(&r.handle) != CUDNN_STATUS_SUCCESS) {
    r.handle = nullptr;
    return internal_error("cannot create a cuDNN handle");
  }
  if (workspace_bytes > r.workspace_bytes) {
    if (r.workspace) r.retired.push_back(r.workspace);
    r.workspace = nullptr;
    r.workspace_bytes = 0;
    if (cudaMalloc(&r.workspace, workspace_bytes) != cudaSuccess) {
      cudaGetLastError();
      return out_of_memory(fmt::format("cannot allocate {} bytes of cuDNN workspace on the GPU", workspace_bytes));
    }
    r.workspace_bytes = workspace_bytes;
  }
  return &r;
}

class ConvKernel final : public Kernel {
 public:
  ConvKernel(ActivationAttr act, ActivationAttr post, bool tf32) : act_(act), post_(post), tf32_(tf32) {}
  ~ConvKernel() override {
    if (krsc_) cudaFree(krsc_);
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* z = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    ConvProblem p;
    p.dtype = x->dtype();
    p.batch = x->dim(0);
    p.in_height = x->dim(1);
    p.in_width = x->dim(2);
    p.in_channels = x->dim(3);
    p.out_channels = w->dim(0);
    p.kernel_height = w->dim(2);
    p.kernel_width = w->dim(3);
    KILN_ASSIGN_OR_RETURN(ConvParams cp, read_conv_params(ctx.attrs(), kSpatial, {w->dim(2), w->dim(3)}, false));
    p.groups = cp.group;
    for (size_t i = 0; i < kSpatial; ++i) {
      const int64_t in = i == 0 ? p.in_height : p.in_width;
      KILN_ASSIGN_OR_RETURN(ConvDim d, conv_output_dim(cp, i, in));
      p.strides[i] = cp.strides[i];
      p.dilations[i] = cp.dilations[i];
      p.pads_begin[i] = d.pad_begin;
      p.pads_end[i] = std::max<int64_t>(0, (d.out - 1) * cp.strides[i] + (w->dim(2 + static_cast<int64_t>(i)) - 1) * cp.dilations[i] + 1 - in - d.pad_begin);
    }
    p.allow_tf32 = tf32_;
    const Dims out{p.batch, p.out_height(), p.out_width(), p.out_channels};
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    if (y->numel() == 0) return ok_status();
    if (x->numel() == 0) return ctx.error("an empty input is not taken on the GPU");
    cudaStream_t stream = stream_of(ctx);

    ConvProblem fused = p;
    fused.has_bias = b != nullptr;
    fused.activation = act_.kind;
    fused.activation_alpha = act_.alpha;
    fused.activation_beta = act_.beta;
    fused.has_residual = z != nullptr;
    fused.post_activation = post_.kind;
    fused.post_activation_alpha = post_.alpha;
    fused.post_activation_beta = post_.beta;
    KILN_ASSIGN_OR_RETURN(ThreadResources * r, thread_resources(0));
    KILN_ASSIGN_OR_RETURN(const Plans* plans, plans_for(ctx, r->handle, *w, fused));
    const ConvPlan& plan = plans->fused ? *plans->fused : *plans->plain;
    KILN_ASSIGN_OR_RETURN(r, thread_resources(plan.workspace_bytes()));
    if (cudnnSetStream(r->handle, stream) != CUDNN_STATUS_SUCCESS) return ctx.error("cannot set cuDNN's stream");
    ConvArgs args;
    args.x = x->data();
    args.w = krsc_;
    args.y = y->data();
    if (plans->fused) {
      args.bias = b ? b->data() : nullptr;
      args.z = z ? z->data() : nullptr;
    }
    Status s = plan.execute(r->handle, stream, args, r->workspace);
    if (!s.ok()) return ctx.error(s.message());
    return plans->fused ? ok_status() : split_epilogue(ctx, b, z, y);
  }

 private:
  struct Plans {
    std::unique_ptr<ConvPlan> fused;  // the whole layer in one cuDNN graph, when cuDNN has one
    std::unique_ptr<ConvPlan> plain;  // else the convolution alone
  };

  // The epilogue after a plain convolution: + bias, activation, + Z, post-activation, in place.
  Status split_epilogue(const KernelContext& ctx, const Tensor* b, const Tensor* z, Tensor* y) const {
    cudaStream_t stream = stream_of(ctx);
    const Dims& yd = y->shape();
    const int64_t y_dims[4] = {yd[0], yd[1], yd[2], yd[3]};
    if (b) {
      const int64_t b_dims[1] = {b->dim(0)};
      KILN_RETURN_IF_ERROR(launch_status(ctx, binary(BinaryOp::kAdd, y->data(), y_dims, 4, b->data(), b_dims, 1, y->data(), y->dtype(), stream)));
    }
    if (act_.kind != Activation::kNone) {
      KILN_RETURN_IF_ERROR(launch_status(ctx, unary(unary_op_for_activation<UnaryOp>(act_.kind, act_.alpha, act_.beta), y->data(), y->data(), y->dtype(), y->numel(), stream)));
    }
    if (z) {
      KILN_RETURN_IF_ERROR(launch_status(ctx, binary(BinaryOp::kAdd, y->data(), y_dims, 4, z->data(), y_dims, 4, y->data(), y->dtype(), stream)));
    }
    if (post_.kind != Activation::kNone) {
      KILN_RETURN_IF_ERROR(launch_status(ctx, unary(unary_op_for_activation<UnaryOp>(post_.kind, post_.alpha, post_.beta), y->data(), y->data(), y->dtype(), y->numel(), stream)));
    }
    return ok_status();
  }

  // The plans for this problem (made on first use, under the mutex, then read-only), and the KRSC
  // weights (made on the first run at all).
  Result<const Plans*> plans_for(const KernelContext& ctx, cudnnHandle_t handle, const Tensor& w, const ConvProblem& fused) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!krsc_) {
      void* p = nullptr;
      if (cudaMalloc(&p, w.nbytes()) != cudaSuccess) {
        cudaGetLastError();
        return out_of_memory(fmt::format("{}: cannot allocate {} bytes for its weights on the GPU", ctx.node().describe(), w.nbytes()));
      }
      const int64_t dims[4] = {w.dim(0), w.dim(1), w.dim(2), w.dim(3)};
      const int64_t perm[4] = {0, 2, 3, 1};  // OIHW -> OHWI (KRSC)
      // Waited for here, once: another context on another stream may read the weights next.
      cudaError_t e = transpose(w.data(), p, w.dtype(), dims, perm, 4, stream_of(ctx));
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream_of(ctx));
      if (e != cudaSuccess) {
        cudaFree(p);
        return launch_status(ctx, e);
      }
      krsc_ = p;
    }
    const std::string key = conv_problem_key(fused);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      auto plans = std::make_unique<Plans>();
      auto made = make_conv_plan(handle, fused);
      if (made.ok()) {
        plans->fused = std::make_unique<ConvPlan>(std::move(*made));
      } else if (made.status().code() == StatusCode::kUnsupported && fused.has_epilogue()) {
        ConvProblem plain = fused;
        plain.has_bias = plain.has_residual = false;
        plain.activation = plain.post_activation = Activation::kNone;
        KILN_ASSIGN_OR_RETURN(ConvPlan p, make_conv_plan(handle, plain));
        plans->plain = std::make_unique<ConvPlan>(std::move(p));
      } else {
        return ctx.error(made.status().message());
      }
      it = plans_.emplace(key, std::move(plans)).first;
    }
    return it->second.get();
  }

  ActivationAttr act_, post_;
  bool tf32_;
  mutable std::mutex mu_;
  mutable void* krsc_ = nullptr;
  mutable std::map<std::string, std::unique_ptr<Plans>> plans_;
};

}  // namespace

std::vector<KernelEntry> conv_entries() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "FusedConv";
  e.name = "cudnn_fused_conv";
  e.supports = supported;
  // float32 convolutions may run on TF32 tensor cores unless the build said --no-tf32.
  e.computes_in = [](const Node& n, const std::string& precision) {
    return precision == "tf32" && n.input(0) && n.input(0)->dtype == DataType::kFloat32;
  };
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    KILN_ASSIGN_OR_RETURN(ActivationAttr act, read_activation_attr(n.attrs, "activation"));
    KILN_ASSIGN_OR_RETURN(ActivationAttr post, read_activation_attr(n.attrs, "post_activation"));
    return std::unique_ptr<Kernel>(std::make_unique<ConvKernel>(act, post, n.precision == "tf32"));
  };
  return {e};
}

}  // namespace kiln::cuda
