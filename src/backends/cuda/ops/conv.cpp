// kiln.FusedConv with channels_last = 1 (X, Z and Y are N×H×W×C) on cuDNN's graph API
// (libs/cudnn_conv.h): the convolution with its bias, activation, residual and post-activation in
// one cuDNN graph where cuDNN has an engine for it; where it has none (cuDNN's fused engines do not
// cover every dtype and shape), the convolution alone and then the epilogue as kiln's pointwise
// kernels, so a layer never fails for want of a fused engine. Weights are W [M, C/g, kh, kw]
// (ONNX's OIHW) constants; cuDNN takes them as KRSC, made once on the device per kernel by a
// transpose of the engine's device copy. float32 uses TF32 tensor cores when the node's precision is "tf32" (the
// builder's default; --no-tf32 keeps exact fp32 products).
//
// Build-time tuning (ops/tuning.h): pack times cuDNN's engine configurations for the layer at
// each profile's opt shapes (or replays the timing cache's choice) and keeps the fastest of each
// distinct problem as a ConvPlanRecord in Node::backend_data; a run whose problem is one of those
// replays its record, any other (or a record cuDNN no longer takes) gets the heuristic's plan.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/copy.h"
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/libs/cudnn_conv.h"
#include "backends/cuda/cuda_device.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "backends/cuda/ops/tuning.h"
#include "backends/timing_cache.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "ir/ops/fused/fused_util.h"
#include "ir/ops/linalg/conv_util.h"
#include "ir/shape.h"

namespace kiln::cuda {

namespace {

constexpr size_t kSpatial = 2;

// Node::backend_data's list of tuned ConvPlanRecords, one per problem; engines from before every
// profile was tuned hold one as a string under kOldPlanRecordKey.
constexpr const char* kPlanRecordsKey = "cudnn_plans";
constexpr const char* kOldPlanRecordKey = "cudnn_plan";

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

// The convolution (no epilogue) of X [N, H, W, C] with W [M, C/g, kh, kw] under the node's
// attributes, TF32 allowed when the node's precision is "tf32": what a run and build-time tuning
// both plan for.
Result<ConvProblem> conv_problem(const Attributes& attrs, DataType dtype, const Dims& x, const Dims& w, bool tf32) {
  ConvProblem p;
  p.dtype = dtype;
  p.batch = x[0];
  p.in_height = x[1];
  p.in_width = x[2];
  p.in_channels = x[3];
  p.out_channels = w[0];
  p.kernel_height = w[2];
  p.kernel_width = w[3];
  KILN_ASSIGN_OR_RETURN(ConvParams cp, read_conv_params(attrs, kSpatial, {w[2], w[3]}, false));
  p.groups = cp.group;
  for (size_t i = 0; i < kSpatial; ++i) {
    const int64_t in = i == 0 ? p.in_height : p.in_width;
    KILN_ASSIGN_OR_RETURN(ConvDim d, conv_output_dim(cp, i, in));
    p.strides[i] = cp.strides[i];
    p.dilations[i] = cp.dilations[i];
    p.pads_begin[i] = d.pad_begin;
    p.pads_end[i] = std::max<int64_t>(0, (d.out - 1) * cp.strides[i] + (w[2 + i] - 1) * cp.dilations[i] + 1 - in - d.pad_begin);
  }
  p.allow_tf32 = tf32;
  return p;
}

// The layer's whole problem: the convolution with its epilogue.
ConvProblem with_epilogue(ConvProblem p, bool bias, bool residual, const ActivationAttr& act, const ActivationAttr& post) {
  p.has_bias = bias;
  p.activation = act.kind;
  p.activation_alpha = act.alpha;
  p.activation_beta = act.beta;
  p.has_residual = residual;
  p.post_activation = post.kind;
  p.post_activation_alpha = post.alpha;
  p.post_activation_beta = post.beta;
  return p;
}

// The convolution alone, for when cuDNN has no engine for the fused graph.
ConvProblem without_epilogue(ConvProblem p) {
  p.has_bias = p.has_residual = false;
  p.activation = p.post_activation = Activation::kNone;
  return p;
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
  ConvKernel(ActivationAttr act, ActivationAttr post, const Node& n) : act_(act), post_(post), tf32_(n.precision == "tf32") {
    // A damaged record is as good as none: the heuristic plans for its problem instead.
    for (const std::string& line : tuned_record_lines(n.backend_data, kPlanRecordsKey, kOldPlanRecordKey)) {
      auto record = ConvPlanRecord::parse(line);
      if (!record.ok()) continue;
      tuned_keys_.push_back(record->problem_key);
      tuned_.push_back(std::move(*record));
    }
  }
  ~ConvKernel() override {
    if (krsc_) cudaFree(krsc_);
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* z = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    KILN_ASSIGN_OR_RETURN(ConvProblem p, conv_problem(ctx.attrs(), x->dtype(), x->shape(), w->shape(), tf32_));
    const Dims out{p.batch, p.out_height(), p.out_width(), p.out_channels};
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out));
    if (y->numel() == 0) return ok_status();
    if (x->numel() == 0) return ctx.error("an empty input is not taken on the GPU");
    cudaStream_t stream = stream_of(ctx);

    const ConvProblem fused = with_epilogue(p, b != nullptr, z != nullptr, act_, post_);
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
      if (replay_tuned(handle, fused, *plans)) {
        ++tuning_counters().records_replayed;
      } else {
        ++tuning_counters().heuristic_plans;
        auto made = make_conv_plan(handle, fused);
        if (made.ok()) {
          plans->fused = std::make_unique<ConvPlan>(std::move(*made));
        } else if (made.status().code() == StatusCode::kUnsupported && fused.has_epilogue()) {
          KILN_ASSIGN_OR_RETURN(ConvPlan p, make_conv_plan(handle, without_epilogue(fused)));
          plans->plain = std::make_unique<ConvPlan>(std::move(p));
        } else {
          return ctx.error(made.status().message());
        }
      }
      it = plans_.emplace(key, std::move(plans)).first;
    }
    return it->second.get();
  }

  // The build-time choice for this run's problem, when one was made for it (the layer's, or the
  // convolution alone where cuDNN had no fused engine at build time) and cuDNN rebuilds it (same
  // version and GPU, the engine still finalizes). False otherwise: the heuristic plans.
  bool replay_tuned(cudnnHandle_t handle, const ConvProblem& fused, Plans& plans) const {
    const std::string fused_key = conv_problem_key(fused);
    const ConvProblem plain = without_epilogue(fused);
    auto i = tuned_record_for(tuned_keys_, fused_key, fused.has_epilogue() ? conv_problem_key(plain) : "");
    if (!i) return false;
    const ConvPlanRecord& record = tuned_[*i];
    const bool whole = record.problem_key == fused_key;
    auto plan = replay_conv_plan(handle, whole ? fused : plain, record);
    if (!plan.ok()) return false;
    (whole ? plans.fused : plans.plain) = std::make_unique<ConvPlan>(std::move(*plan));
    return true;
  }

  ActivationAttr act_, post_;
  bool tf32_;
  std::vector<ConvPlanRecord> tuned_;    // chosen at build time (pack_conv), one per problem
  std::vector<std::string> tuned_keys_;  // their problem keys, in the same order
  mutable std::mutex mu_;
  mutable void* krsc_ = nullptr;
  mutable std::map<std::string, std::unique_ptr<Plans>> plans_;
};

// KernelEntry::pack: for each distinct problem the profiles' opt shapes give, times cuDNN's
// engine configurations for the layer (the whole fused graph, or the convolution alone where cuDNN
// has no fused engine, as a run would plan) on scratch buffers, or replays the timing cache's
// choice, and keeps the records. Nothing when tuning is off or no profile's shapes are known at
// build time; a problem cuDNN has no engine for at all is left to the run (which then says so).
Result<Attributes> pack_conv(const Node& n, const std::vector<BuildShapes>& profiles, BuildContext& build) {
  if (!build.tune) return Attributes();
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  if (!w->constant) return Attributes();
  KILN_ASSIGN_OR_RETURN(ActivationAttr act, read_activation_attr(n.attrs, "activation"));
  KILN_ASSIGN_OR_RETURN(ActivationAttr post, read_activation_attr(n.attrs, "post_activation"));
  const bool has_bias = n.num_inputs() > 2 && n.input(2);
  const bool has_residual = n.num_inputs() > 3 && n.input(3);
  // The layer's problems, each once (two profiles may give the same one), with X's dims for words.
  std::vector<std::pair<ConvProblem, Dims>> problems;
  std::vector<std::string> keys;
  for (const BuildShapes* shapes : profiles_with_distinct_inputs(n, profiles)) {
    auto xs = shapes->find(x);
    if (xs == shapes->end() || xs->second.size() != 4) continue;
    auto conv = conv_problem(n.attrs, x->dtype, xs->second, w->constant->shape(), n.precision == "tf32");
    if (!conv.ok()) continue;  // the run reports it
    const ConvProblem fused = with_epilogue(*conv, has_bias, has_residual, act, post);
    if (fused.x_elements() <= 0 || fused.y_elements() <= 0) continue;
    std::string key = conv_problem_key(fused);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    keys.push_back(std::move(key));
    problems.emplace_back(fused, xs->second);
  }
  if (problems.empty()) return Attributes();

  LayerTuning tuning(build, n, problems.size());
  KILN_ASSIGN_OR_RETURN(ThreadResources * r, thread_resources(0));
  const std::string device = fmt::format("{} cuDNN {}", gpu_identity(), library_version_text(cudnn_runtime_version()));
  std::vector<std::string> lines, words;
  for (size_t i = 0; i < problems.size(); ++i) {
    const ConvProblem& fused = problems[i].first;
    const ConvProblem plain = without_epilogue(fused);
    tuning.start(i);
    const std::string problem = "conv nhwc " + keys[i];
    // The plan for a record of this problem: the whole layer's, or the convolution alone's.
    auto replay = [&](const ConvPlanRecord& record) -> Result<ConvPlan> {
      const bool whole = record.problem_key == keys[i];
      if (!whole && !(fused.has_epilogue() && record.problem_key == conv_problem_key(plain))) {
        return invalid_argument("the record is for another problem");
      }
      return replay_conv_plan(r->handle, whole ? fused : plain, record);
    };
    std::optional<ConvPlan> chosen;
    ConvPlanRecord record;
    double ms = -1;
    bool from_cache = false;
    // A cache entry that no longer replays (damaged, or an engine cuDNN stopped taking) is timed
    // again and replaced.
    if (const TimingCache::Entry* e = build.timing_cache ? build.timing_cache->find(device, problem) : nullptr) {
      auto cached = ConvPlanRecord::parse(e->record);
      if (cached.ok()) {
        auto plan = replay(*cached);
        if (plan.ok()) {
          chosen.emplace(std::move(*plan));
          record = *cached;
          ms = e->ms;
          from_cache = true;
        }
      }
    }
    if (!from_cache) {
      ++tuning_counters().layers_timed;
      auto tuned = tune_conv_plan(r->handle, fused, /*stream=*/nullptr);
      if (!tuned.ok() && tuned.status().code() == StatusCode::kUnsupported && fused.has_epilogue()) {
        tuned = tune_conv_plan(r->handle, plain, /*stream=*/nullptr);
      }
      if (!tuned.ok()) {
        if (tuned.status().code() == StatusCode::kUnsupported) continue;
        return Status(tuned.status().code(), fmt::format("{}: tuning its convolution at {}: {}", n.describe(),
                                                         fmt::join(problems[i].second, "x"), tuned.status().message()));
      }
      record = tuned->best.record();
      ms = tuned->timings[static_cast<size_t>(tuned->best_index)].median_ms;
      chosen.emplace(std::move(tuned->best));
      if (build.timing_cache) build.timing_cache->put(device, problem, {record.to_string(), ms});
    }
    tuning.finished(from_cache);
    lines.push_back(record.to_string());
    const bool split = record.problem_key != keys[i];
    words.push_back(tuned_choice_text(chosen->describe() + (split ? ", epilogue split off" : ""), ms, problems[i].second));
  }
  if (lines.empty()) return Attributes();
  Attributes data;
  set_tuned_record_lines(data, kPlanRecordsKey, std::move(lines));
  data.set_string(kTuningChoiceKey, join_tuned_choices(words));
  return data;
}

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
    return std::unique_ptr<Kernel>(std::make_unique<ConvKernel>(act, post, n));
  };
  e.pack = pack_conv;
  return {e};
}

}  // namespace kiln::cuda
