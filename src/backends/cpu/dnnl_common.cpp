#include "backends/cpu/dnnl_common.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>
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

dnnl::memory thread_scratchpad(const dnnl::memory::desc& md) {
  // One buffer per calling thread, grown as needed: concurrent runs never share a scratchpad.
  thread_local std::unique_ptr<char[]> buffer;
  thread_local size_t capacity = 0;
  const size_t need = md.get_size() + 64;
  if (need > capacity) {
    buffer = std::make_unique<char[]>(need);
    capacity = need;
  }
  const auto addr = reinterpret_cast<uintptr_t>(buffer.get());
  void* aligned = buffer.get() + ((64 - addr % 64) % 64);
  return dnnl::memory(md, dnnl_cpu_engine(), aligned);
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
  std::vector<int64_t> key;
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
      it = plans_.emplace(std::move(key), std::move(made)).first;
    }
    plan = it->second;
  }
  if (!plan->ok) return run_reference(ctx);

  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, plan->out_dims));
  if (y->numel() == 0) return ok_status();
  try {
    const dnnl::engine& eng = dnnl_cpu_engine();
    auto user_mem = [&](const dnnl::memory::desc& md, const Tensor* t) {
      return dnnl::memory(md, eng, const_cast<void*>(t->data()));  // oneDNN reads src through it
    };
    std::unordered_map<int, dnnl::memory> args;
    args[DNNL_ARG_SRC] = user_mem(plan->src_md, ctx.input(0));
    if (plan->has_weights) args[DNNL_ARG_WEIGHTS] = plan->weights ? plan->weights : user_mem(plan->wei_md, ctx.input(1));
    args[DNNL_ARG_DST] = dnnl::memory(plan->dst_md, eng, y->data());
    if (plan->bias_input >= 0) args[DNNL_ARG_BIAS] = user_mem(plan->bias_md, ctx.input(plan->bias_input));
    for (size_t i = 0; i < plan->binary_mds.size(); ++i) {
      args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(plan->binary_post_op_index[i]) | DNNL_ARG_SRC_1] =
          user_mem(plan->binary_mds[i], ctx.input(plan->binary_inputs[i]));
    }
    if (plan->copy_residual_to_dst) {
      const Tensor* z = ctx.input(plan->residual_input);
      if (z->data() != y->data()) std::memcpy(y->data(), z->data(), y->nbytes());
    }
    if (plan->scratch_md.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = thread_scratchpad(plan->scratch_md);
    // One stream per calling thread, made once: a stream is used by one thread at a time.
    thread_local dnnl::stream stream(eng);
    plan->prim.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    return ctx.error(fmt::format("oneDNN failed to execute: {}", e.what()));
  }
  return ok_status();
}

}  // namespace kiln::cpu
