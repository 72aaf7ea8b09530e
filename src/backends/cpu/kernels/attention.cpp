// kiln.Attention (f32) on kiln's own vector kernels: per batch·head and block of query rows,
// scores against a transposed K panel, softmax in fp32, then P·V (attention_body.inc), threaded
// over (batch·head, row block) units with parallel_for. Q, K and V are read through row strides,
// so a packed QKV (qkv_packed = 1) is read in place. Shapes the reference would refuse run the
// reference kernel, which reports them.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/vec_f32.h"
#include "backends/reference/kernels/fused/fused_kernels.h"
#include "core/parallel.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

namespace {

struct AttentionArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* mask;  // null when absent
  float* y;
  int64_t B, H, Sq, Sk, E, Ev, Dh, Dv;
  // Row strides of Q, K and V in elements (E, E, Ev when dense; 3E for all three when they are
  // column ranges of one packed QKV). A batch is S rows.
  int64_t q_row, k_row, v_row;
  int64_t ms[4];  // the mask's strides viewed as [B, H, Sq, Sk] (0 where it broadcasts)
  float scale;
  bool causal;
  int64_t row_block;  // query rows per unit
};

// Per-thread scratch that only grows, 64-byte aligned: concurrent runs never share it.
float* attention_scratch(size_t floats) {
  thread_local std::unique_ptr<float[]> buffer;
  thread_local size_t capacity = 0;
  const size_t need = floats + 16;
  if (need > capacity) {
    buffer = std::make_unique<float[]>(need);
    capacity = need;
  }
  const auto addr = reinterpret_cast<uintptr_t>(buffer.get());
  return buffer.get() + (64 - addr % 64) % 64 / sizeof(float);
}

}  // namespace

namespace attention_isa {
#define KILN_VEC_BODY "backends/cpu/kernels/attention_body.inc"
#define KILN_VEC_PORTABLE VecF32x4
#include "backends/cpu/kernels/vec_per_isa.inc"
}  // namespace attention_isa

namespace {

using RunFn = void (*)(const AttentionArgs&, int64_t, int64_t);

RunFn pick_body() {
  switch (vector_isa()) {
    case VectorIsa::kAvx512: return attention_isa::avx512::run_units;
    case VectorIsa::kAvx2: return attention_isa::avx2::run_units;
    case VectorIsa::kScalar: return attention_isa::portable::run_units;
  }
  return attention_isa::portable::run_units;
}

bool is_f32(const Tensor* t) { return t && t->dtype() == DataType::kFloat32; }

class AttentionKernel final : public Kernel {
 public:
  AttentionKernel(int64_t heads, bool causal, bool packed, const Attribute* scale)
      : heads_(heads),
        causal_(causal),
        packed_(packed),
        has_scale_(scale != nullptr),
        scale_(scale ? scale->f : 0.f) {}

  Status run(KernelContext& ctx) const override {
    const Tensor* mask = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    AttentionArgs a{};
    a.H = heads_;
    // Anything unusual (and every error) is the reference kernel's to report.
    if (mask && (!is_f32(mask) || mask->rank() > 4)) return ref_attention(ctx);
    if (packed_) {
      // Q, K, V read in place as columns [0, E), [E, 2E), [2E, 3E) of QKV's rows: no copies.
      const Tensor* qkv = ctx.input(0);
      if (!is_f32(qkv) || qkv->rank() != 3 || qkv->dim(2) % 3 != 0 || (ctx.num_inputs() > 1 && ctx.input(1)) ||
          (ctx.num_inputs() > 2 && ctx.input(2))) {
        return ref_attention(ctx);
      }
      a.B = qkv->dim(0);
      a.Sq = a.Sk = qkv->dim(1);
      a.E = a.Ev = qkv->dim(2) / 3;
      a.q_row = a.k_row = a.v_row = qkv->dim(2);
      if (a.E % a.H != 0) return ref_attention(ctx);
      if (qkv->numel() > 0) {
        a.q = qkv->data_as<float>();
        a.k = a.q + a.E;
        a.v = a.q + 2 * a.E;
      }
    } else {
      const Tensor* q = ctx.input(0);
      const Tensor* k = ctx.num_inputs() > 1 ? ctx.input(1) : nullptr;
      const Tensor* v = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
      if (!is_f32(q) || !is_f32(k) || !is_f32(v) || q->rank() != 3 || k->rank() != 3 || v->rank() != 3) {
        return ref_attention(ctx);
      }
      a.B = q->dim(0);
      a.Sq = q->dim(1);
      a.E = q->dim(2);
      a.Sk = k->dim(1);
      a.Ev = v->dim(2);
      if (k->dim(0) != a.B || v->dim(0) != a.B || v->dim(1) != a.Sk || k->dim(2) != a.E || a.E % a.H != 0 ||
          a.Ev % a.H != 0) {
        return ref_attention(ctx);
      }
      a.q_row = a.k_row = a.E;
      a.v_row = a.Ev;
      a.q = q->data_as<float>();
      a.k = k->data_as<float>();
      a.v = v->data_as<float>();
    }
    a.Dh = a.E / a.H;
    a.Dv = a.Ev / a.H;
    if (mask) {
      const int64_t scores[4] = {a.B, a.H, a.Sq, a.Sk};
      if (!attention_mask_strides(mask->shape(), scores, a.ms)) return ref_attention(ctx);
    }
    thread_local Dims out_dims;
    out_dims.assign({a.B, a.Sq, a.Ev});
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out_dims));
    if (a.B == 0 || a.Sq == 0 || a.Ev == 0) return ok_status();
    a.mask = mask ? mask->data_as<float>() : nullptr;
    a.y = y->data_as<float>();
    a.causal = causal_;
    a.scale = has_scale_ ? scale_ : (a.Dh > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.Dh))) : 1.f);
    // 32 rows: their scores (16 KiB at 128 keys) stay in L1 between the softmax and P·V; 6 tiles
    // of 6 rows (AVX-512's taller tile) did no better on BERT.
    a.row_block = std::min<int64_t>(32, a.Sq);
    const int64_t units = a.B * a.H * ((a.Sq + a.row_block - 1) / a.row_block);
    // A unit's multiply-adds, and about 64k of them per thread at least.
    const int64_t unit_work = std::max<int64_t>(1, a.row_block * std::max<int64_t>(a.Sk, 1) * (a.Dh + a.Dv + 8));
    const RunFn body = pick_body();
    parallel_for(units, std::max<int64_t>(1, (int64_t{1} << 16) / unit_work),
                 [&](int64_t u0, int64_t u1) { body(a, u0, u1); });
    return ok_status();
  }

 private:
  int64_t heads_;
  bool causal_;
  bool packed_;  // qkv_packed = 1
  bool has_scale_;
  float scale_;
};

bool attention_supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_inputs() > 4 || n.num_outputs() != 1) return false;
  const int64_t packed = n.attrs.get_int("qkv_packed", 0);
  if (packed != 0 && packed != 1) return false;
  // Separate: Q, K, V present. Packed: QKV alone, K and V absent.
  const size_t tensors = packed == 1 ? 1 : 3;
  for (size_t i = 0; i < 3; ++i) {
    if ((n.input(i) != nullptr) != (i < tensors)) return false;
  }
  for (size_t i = 0; i < n.num_inputs(); ++i) {
    const Value* v = n.input(i);
    if (!v) continue;
    if (v->dtype != DataType::kFloat32) return false;
    // Q, K, V (or QKV) are [B, S, H*D]; the mask has rank <= 4.
    if (v->shape && (i < 3 ? v->shape->size() != 3 : v->shape->size() > 4)) return false;
  }
  if (!n.output(0) || n.output(0)->dtype != DataType::kFloat32) return false;
  const Attribute* heads = n.attrs.find("num_heads");
  if (!heads || heads->kind != Attribute::Kind::kInt || heads->i < 1) return false;
  const int64_t causal = n.attrs.get_int("causal", 0);
  if (causal != 0 && causal != 1) return false;
  const Attribute* scale = n.attrs.find("scale");
  return !scale || scale->kind == Attribute::Kind::kFloat;
}

}  // namespace

KernelEntry attention_entry() {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = "Attention";
  e.name = "cpu_attention";
  e.supports = attention_supported;
  e.create = [](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<AttentionKernel>(
        n.attrs.get_int("num_heads", 1), n.attrs.get_int("causal", 0) == 1, n.attrs.get_int("qkv_packed", 0) == 1,
        n.attrs.find("scale")));
  };
  return e;
}

}  // namespace kiln::cpu
