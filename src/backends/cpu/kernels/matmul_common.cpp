// MatMul, Gemm and kiln.FusedMatMul on oneDNN's matmul primitive (f32).
//
//   Y = post_activation(activation(alpha · op(A) @ op(B) + bias) + Z)
//
// Operands are padded with leading 1s to one rank (numpy batch broadcasting; oneDNN broadcasts
// batch dims of size 1); a 1-D A is [1, K] and a 1-D B is [K, 1] (the output drops that dim, which
// leaves its memory layout unchanged). Transposes are strides on the plain buffers, never copies.
// alpha is the output scale (applied to the product before any post-op); bias (Gemm's C with
// beta = 1) and Z are binary-add post-ops broadcasting to the product; activations are eltwise
// post-ops. Shapes oneDNN does not take run the reference kernel.
#include <algorithm>

#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"

namespace kiln::cpu {

namespace {

// oneDNN takes up to 12 dims; real models stay far below this.
constexpr int kMaxRank = 6;

struct MatMulAttrs {
  bool trans_a = false, trans_b = false;
  float alpha = 1.f;
  float beta = 1.f;  // Gemm only
  ActivationAttr act, post;
};

bool read_matmul_attrs(const Node& n, MatMulFlavor flavor, MatMulAttrs& m) {
  const Attributes& a = n.attrs;
  if (flavor == MatMulFlavor::kGemm) {
    const int64_t ta = a.get_int("transA", 0), tb = a.get_int("transB", 0);
    m.trans_a = ta != 0;
    m.trans_b = tb != 0;
    m.alpha = a.get_float("alpha", 1.f);
    m.beta = a.get_float("beta", 1.f);
  } else if (flavor == MatMulFlavor::kFused) {
    const int64_t ta = a.get_int("trans_a", 0), tb = a.get_int("trans_b", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return false;
    m.trans_a = ta == 1;
    m.trans_b = tb == 1;
    m.alpha = a.get_float("alpha", 1.f);
    auto act = read_activation_attr(a, "activation");
    auto post = read_activation_attr(a, "post_activation");
    if (!act.ok() || !post.ok()) return false;
    m.act = *act;
    m.post = *post;
    if (!activation_expressible(m.act) || !activation_expressible(m.post)) return false;
  }
  return true;
}

KernelFn reference_for(MatMulFlavor flavor) {
  switch (flavor) {
    case MatMulFlavor::kMatMul: return ref_matmul;
    case MatMulFlavor::kGemm: return ref_gemm;
    case MatMulFlavor::kFused: return ref_fused_matmul;
  }
  return ref_matmul;
}

// Row-major strides of `d`.
dnnl::memory::dims plain_strides(const dnnl::memory::dims& d) {
  dnnl::memory::dims s(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(d[i], 1);
  return s;
}

// The operand as the product reads it: `stored` padded to `rank` with leading 1s; when `trans`,
// the last two dims are swapped through strides.
dnnl::memory::desc operand_desc(Dims stored, bool trans, size_t rank) {
  stored.insert(stored.begin(), rank - stored.size(), 1);
  dnnl::memory::dims strides = plain_strides(stored);
  dnnl::memory::dims view(stored.begin(), stored.end());
  if (trans) {
    std::swap(view[rank - 1], view[rank - 2]);
    std::swap(strides[rank - 1], strides[rank - 2]);
  }
  return dnnl::memory::desc(view, dnnl::memory::data_type::f32, strides);
}

class MatMulKernel final : public DnnlKernel {
 public:
  MatMulKernel(const Node& n, MatMulFlavor flavor, MatMulAttrs m) : DnnlKernel(reference_for(flavor), n), flavor_(flavor), m_(m) {}

 protected:
  DnnlPlan make_plan(KernelContext& ctx) const override {
    DnnlPlan plan;
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* bias = flavor_ != MatMulFlavor::kMatMul && ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* z = flavor_ == MatMulFlavor::kFused && ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    if (!a || !b) return plan;
    for (const Tensor* t : {a, b, bias, z}) {
      if (t && t->dtype() != DataType::kFloat32) return plan;
    }
    if (flavor_ == MatMulFlavor::kGemm && (a->rank() != 2 || b->rank() != 2 || (bias && m_.beta != 1.f))) return plan;
    if (a->rank() < 1 || b->rank() < 1 || a->rank() > kMaxRank || b->rank() > kMaxRank) return plan;
    if ((m_.trans_a && a->rank() < 2) || (m_.trans_b && b->rank() < 2)) return plan;

    // Logical (transposed) dims, 1-D operands promoted to matrices.
    const bool a_vec = a->rank() == 1, b_vec = b->rank() == 1;
    Dims a_stored = a_vec ? Dims{1, a->dim(0)} : a->shape();
    Dims b_stored = b_vec ? Dims{b->dim(0), 1} : b->shape();
    Dims al = a_stored, bl = b_stored;
    if (m_.trans_a) std::swap(al[al.size() - 1], al[al.size() - 2]);
    if (m_.trans_b) std::swap(bl[bl.size() - 1], bl[bl.size() - 2]);
    size_t r = std::max(al.size(), bl.size());
    al.insert(al.begin(), r - al.size(), 1);
    bl.insert(bl.begin(), r - bl.size(), 1);
    const int64_t M = al[r - 2], K = al[r - 1], N = bl[r - 1];
    if (bl[r - 2] != K) return plan;  // the reference reports the mismatch
    Dims out(r);
    for (size_t i = 0; i + 2 < r; ++i) {
      if (al[i] != bl[i] && al[i] != 1 && bl[i] != 1) return plan;
      out[i] = al[i] == 1 ? bl[i] : al[i];  // numpy broadcasting: 1 stretches (to 0 as well)
    }
    out[r - 2] = M;
    out[r - 1] = N;
    for (int64_t v : out) {
      if (v == 0) return plan;
    }
    if (K == 0) return plan;
    // The ONNX output: MatMul drops the promoted dims of 1-D operands.
    Dims onnx_out(out.begin(), out.end() - 2);
    if (!a_vec) onnx_out.push_back(M);
    if (!b_vec) onnx_out.push_back(N);

    // A batch of rows against one weight matrix is one taller product: [..., M, K] @ [K, N] is
    // [rows, K] @ [K, N]. The primitive then packs its weights in the layout it prefers (with batch
    // dims it keeps them plain and is up to 2x slower), and bias and Z are read as [1, N] or
    // [rows, N]: those are the only shapes taken on this path.
    auto flat_ok = [&](const Tensor* t) {
      if (!t) return true;
      const bool row = t->numel() == N && t->rank() >= 1 && t->dim(t->rank() - 1) == N;
      return row || t->shape() == out;
    };
    const bool flatten = !a_vec && !b_vec && b->rank() == 2 && !m_.trans_a && r > 2 && flat_ok(bias) && flat_ok(z);
    if (flatten) {
      const int64_t rows = element_count(out) / N;
      a_stored = {rows, K};
      out = {rows, N};
      r = 2;
    }

    const dnnl::engine& eng = dnnl_cpu_engine();
    dnnl::post_ops ops;
    int post_op_count = 0;
    auto add_binary = [&](const Tensor* t, int input) -> bool {
      // bias and Z broadcast to the product without enlarging it (rank and dims checked here).
      if (a_vec || b_vec || (!flatten && static_cast<size_t>(t->rank()) > r)) return false;
      Dims d = !flatten ? t->shape() : t->numel() == N ? Dims{1, N} : out;
      d.insert(d.begin(), r - d.size(), 1);
      for (size_t i = 0; i < r; ++i) {
        if (d[i] != 1 && d[i] != out[i]) return false;
      }
      const dnnl::memory::desc md = plain_f32_desc(dnnl::memory::dims(d.begin(), d.end()));
      ops.append_binary(dnnl::algorithm::binary_add, md);
      plan.binary_mds.push_back(md);
      plan.binary_inputs.push_back(input);
      plan.binary_post_op_index.push_back(post_op_count++);
      return true;
    };
    auto add_activation = [&](const ActivationAttr& act) {
      const int before = ops.len();
      append_activation(ops, act);
      post_op_count += ops.len() - before;
    };
    // A bias that varies along N only is the primitive's own bias (added in the accumulator, the
    // cheapest form); oneDNN scales before adding it, so only without alpha.
    bool native_bias = false;
    if (bias && m_.alpha == 1.f && !a_vec && !b_vec && static_cast<size_t>(bias->rank()) <= r && bias->rank() >= 1 &&
        bias->dim(bias->rank() - 1) == N) {
      native_bias = bias->numel() == N;
    }
    if (native_bias) {
      dnnl::memory::dims bd(r, 1);
      bd[r - 1] = N;
      plan.bias_md = plain_f32_desc(bd);
      plan.bias_input = 2;
    } else if (bias && !add_binary(bias, 2)) {
      return plan;
    }
    add_activation(m_.act);
    if (z && !add_binary(z, 3)) return plan;
    add_activation(m_.post);

    dnnl::primitive_attr attr;
    if (m_.alpha != 1.f) attr.set_output_scales(0, {m_.alpha});
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    plan.src_md = operand_desc(a_stored, m_.trans_a, r);
    plan.wei_md = operand_desc(b_stored, m_.trans_b, r);
    plan.dst_md = plain_f32_desc(dnnl::memory::dims(out.begin(), out.end()));
    // Constant weights are packed into the layout the primitive prefers: at build time
    // (DnnlKernel::pack, stored in the engine) or once here, and kept.
    const bool b_constant = ctx.node().input(1) && ctx.node().input(1)->is_constant();
    // bf16 layers: bf16 source and weights, fp32 accumulation, bias and output.
    const bool bf16_product = bf16() && b_constant;
    const dnnl::memory::desc wei_any(plan.wei_md.dims(), bf16_product ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32,
                                     dnnl::memory::format_tag::any);
    const dnnl::memory::desc& wei_md = b_constant ? wei_any : plan.wei_md;
    const dnnl::memory::desc src_md = bf16_product ? compute_src_desc(plan, plan.src_md) : plan.src_md;
    const dnnl::matmul::desc desc = native_bias ? dnnl::matmul::desc(src_md, wei_md, plan.bias_md, plan.dst_md)
                                                : dnnl::matmul::desc(src_md, wei_md, plan.dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, eng);
    plan.prim = dnnl::matmul(pd);
    if (b_constant) plan.weights = constant_weights(plan.wei_md, pd.weights_desc(), b->data());
    plan.scratch_md = pd.scratchpad_desc();
    plan.out_dims = onnx_out;
    plan.ok = true;
    return plan;
  }

 private:
  MatMulFlavor flavor_;
  MatMulAttrs m_;
};

}  // namespace

bool matmul_supported(const Node& n, MatMulFlavor flavor) {
  std::vector<int> ranks;
  if (!node_inputs_f32(n, ranks)) return false;
  if (ranks.size() < 2 || ranks[0] < 1 || ranks[1] < 1 || ranks[0] > kMaxRank || ranks[1] > kMaxRank) return false;
  MatMulAttrs m;
  if (!read_matmul_attrs(n, flavor, m)) return false;
  if (flavor == MatMulFlavor::kGemm) {
    if (ranks[0] != 2 || ranks[1] != 2) return false;
    // beta·C has no oneDNN post-op form; C is added as is only when beta is 1.
    if (ranks.size() > 2 && ranks[2] != -1 && (ranks[2] > 2 || m.beta != 1.f)) return false;
  }
  return true;
}

Result<std::unique_ptr<Kernel>> make_matmul_kernel(const Node& n, MatMulFlavor flavor) {
  MatMulAttrs m;
  if (!read_matmul_attrs(n, flavor, m)) {
    return invalid_argument(n.describe() + ": attributes the cpu backend cannot express");
  }
  return std::unique_ptr<Kernel>(std::make_unique<MatMulKernel>(n, flavor, m));
}

}  // namespace kiln::cpu
