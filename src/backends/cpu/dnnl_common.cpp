#include "backends/cpu/dnnl_common.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "fmt/format.h"

namespace kiln::cpu {

const dnnl::engine& dnnl_cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::string dnnl_isa_name() {
  // cpuid, not dnnl::get_effective_cpu_isa(): that reports the highest ISA oneDNN is *allowed*
  // to use (avx512_core_amx by default), not what this CPU has. Names follow oneDNN's ISA tiers.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return "generic";
  const bool avx2 = b & (1u << 5);
  const bool avx512_core = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));
  const bool vnni = c & (1u << 11);
  const bool amx = (d & (1u << 22)) && (d & (1u << 24));
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  const bool bf16 = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) != 0 && (a1 & (1u << 5));
  if (avx512_core && vnni && bf16 && amx) return "avx512_core_amx";
  if (avx512_core && vnni && bf16) return "avx512_core_bf16";
  if (avx512_core && vnni) return "avx512_core_vnni";
  if (avx512_core) return "avx512_core";
  if (avx2) return "avx2";
  return "generic";
}

bool has_native_bf16() {
  const std::string isa = dnnl_isa_name();
  return isa == "avx512_core_amx" || isa == "avx512_core_bf16";
}

bool activation_expressible(const ActivationAttr& a) {
  // numpy's clip with min > max gives max everywhere; oneDNN's clip is not specified for that.
  if (a.kind == Activation::kClip) return !(a.alpha > a.beta);
  return true;  // every other kiln activation has an exact eltwise counterpart
}

void append_activation(dnnl::post_ops& ops, const ActivationAttr& a) {
  using alg = dnnl::algorithm;
  switch (a.kind) {
    case Activation::kNone: return;
    case Activation::kRelu: ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); return;
    case Activation::kLeakyRelu: ops.append_eltwise(1.f, alg::eltwise_relu, a.alpha, 0.f); return;
    case Activation::kClip: ops.append_eltwise(1.f, alg::eltwise_clip, a.alpha, a.beta); return;
    case Activation::kSigmoid: ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); return;
    case Activation::kTanh: ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); return;
    case Activation::kHardSigmoid:
      // oneDNN 2.6 has no hardsigmoid: clip(alpha*x + beta, 0, 1).
      ops.append_eltwise(1.f, alg::eltwise_linear, a.alpha, a.beta);
      ops.append_eltwise(1.f, alg::eltwise_clip, 0.f, 1.f);
      return;
    case Activation::kHardSwish: ops.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f); return;
    case Activation::kSilu: ops.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f); return;
    case Activation::kGelu: ops.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f); return;
    case Activation::kGeluTanh: ops.append_eltwise(1.f, alg::eltwise_gelu_tanh, 0.f, 0.f); return;
  }
}

dnnl::memory::desc plain_f32_desc(const dnnl::memory::dims& dims) {
  dnnl::memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(dims[i], 1);
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

dnnl::memory::desc activation_f32_desc(const dnnl::memory::dims& nchw, bool channels_last) {
  return channels_last ? dnnl::memory::desc(nchw, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc) : plain_f32_desc(nchw);
}

int64_t dnnl_end_pad(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin) {
  return std::max<int64_t>(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in - pad_begin);
}

dnnl::memory reorder_constant(const dnnl::memory::desc& from, const dnnl::memory::desc& to, const void* data) {
  const dnnl::engine& eng = dnnl_cpu_engine();
  dnnl::memory packed(to, eng);
  dnnl::memory user(from, eng, const_cast<void*>(data));  // read only
  dnnl::stream stream(eng);
  dnnl::reorder(user, packed).execute(stream, user, packed);
  stream.wait();
  return packed;
}

namespace {

// A node's inputs as tensors of their build shapes, for planning at build time: constants with
// their data, the others without any (a plan reads only their shapes). `complete` is false when
// a shape is not known.
class BuildShapeContext final : public KernelContext {
 public:
  BuildShapeContext(const Node& n, const BuildShapes& shapes) : node_(n) {
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      const Value* v = n.input(i);
      if (!v) {
        inputs_.emplace_back();
        continue;
      }
      if (v->constant) {
        inputs_.emplace_back(*v->constant);
        continue;
      }
      auto it = shapes.find(v);
      if (it == shapes.end()) complete_ = false;
      inputs_.emplace_back(Tensor::wrap(v->dtype, it == shapes.end() ? Dims{} : it->second, nullptr, nullptr));
    }
  }
  bool complete() const { return complete_; }
  const Node& node() const override { return node_; }
  size_t num_inputs() const override { return inputs_.size(); }
  const Tensor* input(size_t i) const override { return i < inputs_.size() && inputs_[i] ? &*inputs_[i] : nullptr; }
  size_t num_outputs() const override { return node_.num_outputs(); }
  Result<Tensor*> allocate_output(size_t, DataType, const Dims&) override { return error("no outputs while packing"); }
  Result<std::vector<Tensor>> run_subgraph(const Graph&, const std::vector<Tensor>&) override {
    return error("no subgraphs while packing");
  }

 private:
  const Node& node_;
  std::vector<std::optional<Tensor>> inputs_;
  bool complete_ = true;
};

std::string dnnl_version_string() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}.{}.{} {}", v->major, v->minor, v->patch, v->hash);
}

constexpr const char* kPackedWeights = "dnnl_weights";
constexpr const char* kPackedDesc = "dnnl_weights_desc";
constexpr const char* kPackedBy = "dnnl_version";

}  // namespace

void* thread_buffer(int slot, size_t bytes) {
  // One buffer per calling thread and slot: concurrent runs never share one.
  constexpr int kSlots = 2;
  thread_local std::unique_ptr<char[]> buffer[kSlots];
  thread_local size_t capacity[kSlots] = {};
  const size_t need = bytes + 64;
  if (need > capacity[slot]) {
    buffer[slot] = std::make_unique<char[]>(need);
    capacity[slot] = need;
  }
  const auto addr = reinterpret_cast<uintptr_t>(buffer[slot].get());
  return buffer[slot].get() + ((64 - addr % 64) % 64);
}

DnnlBindings& DnnlBindingCache::for_this_thread(const DnnlPlan& plan) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<DnnlBindings>& b = by_thread_[std::this_thread::get_id()];
  if (b) return *b;
  b = std::make_unique<DnnlBindings>();
  const dnnl::engine& eng = dnnl_cpu_engine();
  auto unbound = [&](const dnnl::memory::desc& md) { return dnnl::memory(md, eng, DNNL_MEMORY_NONE); };
  b->args[DNNL_ARG_SRC] = unbound(plan.src_convert ? plan.src_compute_md : plan.src_md);
  if (plan.src_convert) b->convert_args = {{DNNL_ARG_FROM, unbound(plan.src_md)}, {DNNL_ARG_TO, b->args[DNNL_ARG_SRC]}};
  if (plan.has_weights) b->args[DNNL_ARG_WEIGHTS] = plan.weights ? plan.weights : unbound(plan.wei_md);
  b->args[DNNL_ARG_DST] = unbound(plan.dst_md);
  if (plan.bias_input >= 0) b->args[DNNL_ARG_BIAS] = unbound(plan.bias_md);
  for (size_t i = 0; i < plan.binary_mds.size(); ++i) {
    b->args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(plan.binary_post_op_index[i]) | DNNL_ARG_SRC_1] = unbound(plan.binary_mds[i]);
  }
  if (plan.scratch_md.get_size() > 0) b->args[DNNL_ARG_SCRATCHPAD] = unbound(plan.scratch_md);
  for (const auto& [arg, m] : b->args) b->c_args.push_back({arg, m.get()});
  for (const auto& [arg, m] : b->convert_args) b->c_convert_args.push_back({arg, m.get()});
  return *b;
}

bool dnnl_product_computes_in(const Node& n, const std::string& precision) {
  return precision == "bf16" && has_native_bf16() && n.input(1) && n.input(1)->is_constant();
}

Result<Attributes> pack_dnnl_weights(Result<std::unique_ptr<Kernel>> made, const Node& n, const BuildShapes& shapes) {
  if (!made.ok()) return made.status();
  return static_cast<const DnnlKernel&>(**made).pack(n, shapes);
}

DnnlKernel::DnnlKernel(KernelFn reference, const Node& n) : reference_(reference), bf16_(n.precision == "bf16") {
  const Attribute* data = n.backend_data.find(kPackedWeights);
  const Attribute* desc = n.backend_data.find(kPackedDesc);
  // Packed by another oneDNN (the descriptor's layout is that version's): repack from the plain
  // weights, as an engine without packed weights would.
  if (!data || !desc || n.backend_data.get_string(kPackedBy, "") != dnnl_version_string()) return;
  if (desc->kind != Attribute::Kind::kTensor || desc->t.nbytes() != sizeof(dnnl_memory_desc_t)) return;
  if (data->kind != Attribute::Kind::kTensor || data->t.dtype() != DataType::kUInt8) return;
  dnnl_memory_desc_t raw;
  std::memcpy(&raw, desc->t.data(), sizeof raw);
  if (raw.ndims < 1 || raw.ndims > DNNL_MAX_NDIMS) return;
  packed_desc_ = dnnl::memory::desc(raw);
  if (packed_desc_.get_size() != data->t.nbytes()) return;
  packed_data_ = data->t;
  has_packed_ = true;
}

Result<Attributes> DnnlKernel::pack(const Node& n, const BuildShapes& shapes) const {
  Attributes out;
  const Value* w = n.input(1);
  if (!w || !w->constant) return out;
  BuildShapeContext ctx(n, shapes);
  if (!ctx.complete()) return out;
  DnnlPlan plan;
  try {
    plan = make_plan(ctx);
  } catch (const dnnl::error&) {
    return out;  // oneDNN declines these shapes: the reference will run them
  }
  if (!plan.ok || !plan.weights) return out;
  const dnnl::memory::desc md = plan.weights.get_desc();
  KILN_ASSIGN_OR_RETURN(Tensor data, Tensor::allocate(DataType::kUInt8, {static_cast<int64_t>(md.get_size())}));
  std::memcpy(data.data(), plan.weights.get_data_handle(), md.get_size());
  KILN_ASSIGN_OR_RETURN(Tensor desc, Tensor::allocate(DataType::kUInt8, {static_cast<int64_t>(sizeof(dnnl_memory_desc_t))}));
  std::memcpy(desc.data(), &md.data, sizeof(dnnl_memory_desc_t));
  out.set_tensor(kPackedWeights, std::move(data));
  out.set_tensor(kPackedDesc, std::move(desc));
  out.set_string(kPackedBy, dnnl_version_string());
  return out;
}

dnnl::memory DnnlKernel::constant_weights(const dnnl::memory::desc& plain, const dnnl::memory::desc& wanted, const void* data) const {
  if (has_packed_ && packed_desc_ == wanted) {
    return dnnl::memory(wanted, dnnl_cpu_engine(), const_cast<void*>(packed_data_.data()));  // read only
  }
  if (has_packed_ && packed_desc_.dims() == wanted.dims() && packed_desc_.data_type() == wanted.data_type()) {
    return reorder_constant(packed_desc_, wanted, packed_data_.data());  // another shape chose another layout
  }
  return reorder_constant(plain, wanted, data);
}

dnnl::memory::desc DnnlKernel::compute_src_desc(DnnlPlan& plan, const dnnl::memory::desc& src_md) const {
  if (!bf16_) return src_md;
  // The same dims in a dense layout of the same dim order (nhwc stays nhwc), in bf16.
  dnnl::memory::desc md = src_md;
  md.data.data_type = dnnl_bf16;
  if (md.data.format_kind == dnnl_blocked) {
    // Recompute dense strides in the source's stride order: transposed views become dense.
    const int nd = md.data.ndims;
    std::vector<int> order(nd);
    for (int i = 0; i < nd; ++i) order[i] = i;
    const auto& st = src_md.data.format_desc.blocking.strides;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return st[a] > st[b]; });
    dnnl::memory::dims dims = src_md.dims(), strides(nd);
    int64_t s = 1;
    for (int k = nd; k-- > 0;) {
      strides[order[k]] = s;
      s *= std::max<int64_t>(dims[order[k]], 1);
    }
    md = dnnl::memory::desc(dims, dnnl::memory::data_type::bf16, strides);
  }
  plan.src_compute_md = md;
  plan.src_convert = dnnl::reorder(dnnl::reorder::primitive_desc(dnnl_cpu_engine(), src_md, dnnl_cpu_engine(), md));
  return md;
}

bool node_inputs_f32(const Node& n, std::vector<int>& ranks) {
  ranks.assign(n.num_inputs(), -1);
  for (size_t i = 0; i < n.num_inputs(); ++i) {
    const Value* v = n.input(i);
    if (!v) continue;
    if (v->dtype != DataType::kFloat32 || !v->shape) return false;
    ranks[i] = static_cast<int>(v->shape->size());
  }
  for (size_t i = 0; i < n.num_outputs(); ++i) {
    const Value* v = n.output(i);
    if (v && v->dtype != DataType::kFloat32) return false;
  }
  return true;
}

Status DnnlKernel::run_reference(KernelContext& ctx) const {
  const int in = inplace_input();
  if (in < 0 || static_cast<size_t>(in) >= ctx.num_inputs() || !ctx.input(in)) return reference_(ctx);
  // The output may share that input's buffer (the planner's doing), so the reference reads a copy.
  KILN_ASSIGN_OR_RETURN(Tensor copy, ctx.input(in)->clone());  // shapes oneDNN declines only: rare
  SubstituteContext with_copy(ctx, /*own_output0=*/false);
  with_copy.replace_input(static_cast<size_t>(in), std::move(copy));
  return reference_(with_copy);
}

Status DnnlKernel::run(KernelContext& ctx) const {
  // The shape signature: each input's presence and dims.
  // The shape signature, in a per-thread vector that keeps its capacity (a run allocates nothing).
  thread_local std::vector<int64_t> key;
  key.clear();
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor* t = ctx.input(i);
    if (!t || t->dtype() != DataType::kFloat32) {
      key.push_back(t ? -2 : -1);
      continue;
    }
    key.push_back(static_cast<int64_t>(t->rank()));
    key.insert(key.end(), t->shape().begin(), t->shape().end());
  }
  std::shared_ptr<const DnnlPlan> plan;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      auto made = std::make_shared<DnnlPlan>();
      try {
        *made = make_plan(ctx);
      } catch (const dnnl::error&) {
        made = std::make_shared<DnnlPlan>();  // oneDNN refused these shapes: the reference runs
      }
      it = plans_.emplace(key, std::move(made)).first;
    }
    plan = it->second;
  }
  if (!plan->ok) return run_reference(ctx);

  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, plan->out_dims));
  if (y->numel() == 0) return ok_status();
  try {
    DnnlBindings& b = plan->bindings->for_this_thread(*plan);
    auto point = [](dnnl::memory& m, const void* p) { m.set_data_handle(const_cast<void*>(p)); };  // read only for inputs
    point(plan->src_convert ? b.convert_args[DNNL_ARG_FROM] : b.args[DNNL_ARG_SRC], ctx.input(0)->data());
    if (plan->src_convert) point(b.args[DNNL_ARG_SRC], thread_buffer(1, plan->src_compute_md.get_size()));
    if (plan->has_weights && !plan->weights) point(b.args[DNNL_ARG_WEIGHTS], ctx.input(1)->data());
    point(b.args[DNNL_ARG_DST], y->data());
    if (plan->bias_input >= 0) point(b.args[DNNL_ARG_BIAS], ctx.input(plan->bias_input)->data());
    for (size_t i = 0; i < plan->binary_mds.size(); ++i) {
      point(b.args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(plan->binary_post_op_index[i]) | DNNL_ARG_SRC_1], ctx.input(plan->binary_inputs[i])->data());
    }
    if (plan->scratch_md.get_size() > 0) point(b.args[DNNL_ARG_SCRATCHPAD], thread_buffer(0, plan->scratch_md.get_size()));
    if (plan->copy_residual_to_dst) {
      const Tensor* z = ctx.input(plan->residual_input);
      if (z->data() != y->data()) std::memcpy(y->data(), z->data(), y->nbytes());
    }
    // One stream per calling thread, made once: a stream is used by one thread at a time.
    thread_local dnnl::stream stream(dnnl_cpu_engine());
    auto execute = [&](const dnnl::primitive& p, const std::vector<dnnl_exec_arg_t>& args) {
      dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), stream.get(), static_cast<int>(args.size()), args.data()),
                              "could not execute a primitive");
    };
    if (plan->src_convert) execute(plan->src_convert, b.c_convert_args);
    execute(plan->prim, b.c_args);
    stream.wait();
  } catch (const dnnl::error& e) {
    return ctx.error(fmt::format("oneDNN failed to execute: {}", e.what()));
  }
  return ok_status();
}

}  // namespace kiln::cpu
