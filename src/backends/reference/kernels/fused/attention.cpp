// Attention: per batch and head, S = scale * Q_h @ K_h^T + mask (causally masked keys at -inf),
// Y_h = softmax(S over keys) @ V_h, heads split from and merged back into the last dim. The two
// products run through MatMul's loops (matmul_acc, in double). The scores are rounded to the
// compute type (fp32; fp64 for float64 inputs) as the unfused MatMul/Add chain stores them, so a
// row masked with a huge negative number behaves as it does unfused; softmax statistics are in
// double. A row whose keys are all masked out (-inf) gives zeros. With qkv_packed, Q, K and V are
// read as column ranges of the one QKV input (row stride 3E), as they would be after a Split.
#include <cmath>
#include <limits>

#include "backends/reference/kernels/fused/fused_kernels.h"
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "fmt/format.h"

namespace kiln {

namespace {

// One [M, K] @ [K, N] product for matmul_acc.
MatMulShape single_product(int64_t M, int64_t K, int64_t N) {
  MatMulShape s;
  s.M = M;
  s.K = K;
  s.N = N;
  s.batch = 1;
  s.a_off = {0};
  s.b_off = {0};
  s.out = {M, N};
  return s;
}

// Where Q, K and V lie: separate dense tensors, or (qkv_packed) column ranges of one QKV tensor
// whose rows are 3E wide. Offsets and strides in elements.
struct Operands {
  const Tensor* q = nullptr;
  const Tensor* k = nullptr;
  const Tensor* v = nullptr;
  int64_t B = 0, Sq = 0, Sk = 0, E = 0, Ev = 0;
  int64_t k_offset = 0, v_offset = 0;    // from the start of K's / V's tensor
  int64_t q_row = 0, k_row = 0, v_row = 0;  // row strides
};

Result<Operands> packed_operands(const KernelContext& ctx, int64_t H) {
  KILN_ASSIGN_OR_RETURN(const Tensor* qkv, fused_required_input(ctx, 0, "QKV"));
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (i < ctx.num_inputs() && ctx.input(i)) {
      return ctx.error(fmt::format("input {} must be absent with qkv_packed = 1 (Q, K and V are column ranges of "
                                   "input 0 'QKV')",
                                   i));
    }
  }
  if (qkv->rank() != 3 || qkv->dim(2) % 3 != 0) {
    return ctx.error(fmt::format("input 0 'QKV' {} must be [B, S, 3E] with qkv_packed = 1", qkv->describe()));
  }
  Operands o;
  o.q = o.k = o.v = qkv;
  o.B = qkv->dim(0);
  o.Sq = o.Sk = qkv->dim(1);
  o.E = o.Ev = qkv->dim(2) / 3;
  o.k_offset = o.E;
  o.v_offset = 2 * o.E;
  o.q_row = o.k_row = o.v_row = qkv->dim(2);
  if (o.E % H != 0) {
    return ctx.error(fmt::format("the hidden size {} of input 0 'QKV' {} must be divisible by num_heads {}", o.E,
                                 qkv->describe(), H));
  }
  return o;
}

Result<Operands> separate_operands(const KernelContext& ctx, int64_t H) {
  KILN_ASSIGN_OR_RETURN(const Tensor* q, fused_required_input(ctx, 0, "Q"));
  KILN_ASSIGN_OR_RETURN(const Tensor* k, fused_required_input(ctx, 1, "K"));
  KILN_ASSIGN_OR_RETURN(const Tensor* v, fused_required_input(ctx, 2, "V"));
  if (q->rank() != 3 || k->rank() != 3 || v->rank() != 3) {
    return ctx.error(fmt::format("Q {}, K {} and V {} must have rank 3", q->describe(), k->describe(), v->describe()));
  }
  Operands o;
  o.q = q;
  o.k = k;
  o.v = v;
  o.B = q->dim(0);
  o.Sq = q->dim(1);
  o.E = q->dim(2);
  o.Sk = k->dim(1);
  o.Ev = v->dim(2);
  if (k->dim(0) != o.B || v->dim(0) != o.B || v->dim(1) != o.Sk || k->dim(2) != o.E) {
    return ctx.error(fmt::format("Q {}, K {} and V {} disagree (expected [B, Sq, H*Dh], [B, Sk, H*Dh], [B, Sk, H*Dv])",
                                 q->describe(), k->describe(), v->describe()));
  }
  if (o.E % H != 0 || o.Ev % H != 0) {
    return ctx.error(fmt::format("the hidden sizes of Q {} and V {} must be divisible by num_heads {}", q->describe(),
                                 v->describe(), H));
  }
  o.q_row = o.k_row = o.E;
  o.v_row = o.Ev;
  return o;
}

}  // namespace

Status ref_attention(KernelContext& ctx) {
  const Tensor* mask = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 4));
  auto heads = ctx.attrs().require_int("num_heads");
  if (!heads.ok()) return ctx.error(heads.status().message());
  const int64_t H = *heads;
  if (H < 1) return ctx.error(fmt::format("attribute 'num_heads' is {}, expected >= 1", H));
  const int64_t causal = ctx.attrs().get_int("causal", 0);
  if (causal != 0 && causal != 1) return ctx.error(fmt::format("attribute 'causal' is {}, expected 0 or 1", causal));
  const int64_t packed = ctx.attrs().get_int("qkv_packed", 0);
  if (packed != 0 && packed != 1) return ctx.error(fmt::format("attribute 'qkv_packed' is {}, expected 0 or 1", packed));
  KILN_ASSIGN_OR_RETURN(const Operands o, packed == 1 ? packed_operands(ctx, H) : separate_operands(ctx, H));
  const Tensor* q = o.q;
  const int64_t B = o.B, Sq = o.Sq, E = o.E, Sk = o.Sk, Ev = o.Ev;
  const int64_t Dh = E / H, Dv = Ev / H;
  const Dims score_dims{B, H, Sq, Sk};
  if (mask && mask->rank() > 4) return ctx.error(fmt::format("input 3 'mask' {} has rank > 4", mask->describe()));
  KILN_RETURN_IF_ERROR(fused_check_fits(ctx, mask, score_dims, "input 3 'mask' (to [B, H, Sq, Sk])"));
  const double scale = ctx.attrs().has("scale") ? static_cast<double>(ctx.attrs().get_float("scale", 1.0f))
                                                : (Dh > 0 ? 1.0 / std::sqrt(static_cast<double>(Dh)) : 1.0);
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, q->dtype(), {B, Sq, Ev}));
  const std::vector<int64_t> mstr = mask ? broadcast_strides(mask->shape(), score_dims) : std::vector<int64_t>(4, 0);
  return dispatch_float(q->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;  // the scores' type
    const T* qp = o.q->data_as<T>();
    // (An empty packed QKV may have no buffer to offset into.)
    const T* kp = o.k->numel() ? o.k->data_as<T>() + o.k_offset : o.k->data_as<T>();
    const T* vp = o.v->numel() ? o.v->data_as<T>() + o.v_offset : o.v->data_as<T>();
    const T* mp = mask ? mask->data_as<T>() : nullptr;
    T* yp = y->data_as<T>();
    auto d = [](T x) { return static_cast<double>(static_cast<C>(x)); };
    std::vector<double> qh(static_cast<size_t>(Sq * Dh)), kt(static_cast<size_t>(Dh * Sk));
    std::vector<double> vh(static_cast<size_t>(Sk * Dv)), scores(static_cast<size_t>(Sq * Sk));
    std::vector<double> probs(scores.size()), out(static_cast<size_t>(Sq * Dv));
    const MatMulShape qk = single_product(Sq, Dh, Sk), pv = single_product(Sq, Sk, Dv);
    constexpr double kNegInf = -std::numeric_limits<double>::infinity();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t i = 0; i < Sq; ++i) {
          for (int64_t c = 0; c < Dh; ++c) qh[static_cast<size_t>(i * Dh + c)] = d(qp[(b * Sq + i) * o.q_row + h * Dh + c]);
        }
        for (int64_t j = 0; j < Sk; ++j) {
          for (int64_t c = 0; c < Dh; ++c) kt[static_cast<size_t>(c * Sk + j)] = d(kp[(b * Sk + j) * o.k_row + h * Dh + c]);
          for (int64_t c = 0; c < Dv; ++c) vh[static_cast<size_t>(j * Dv + c)] = d(vp[(b * Sk + j) * o.v_row + h * Dv + c]);
        }
        matmul_acc<double>(qk, qh.data(), kt.data(), scores.data());
        for (int64_t i = 0; i < Sq; ++i) {
          double* row = scores.data() + i * Sk;
          double* p = probs.data() + i * Sk;
          double mx = kNegInf;
          for (int64_t j = 0; j < Sk; ++j) {
            C s = static_cast<C>(scale * row[j]);
            if (mp) s = static_cast<C>(s + static_cast<C>(mp[b * mstr[0] + h * mstr[1] + i * mstr[2] + j * mstr[3]]));
            // Causal: query i sees keys up to i + Sk - Sq (the queries are the last Sq positions).
            const bool hidden = causal == 1 && j > i + Sk - Sq;
            row[j] = hidden ? kNegInf : static_cast<double>(s);
            if (row[j] > mx) mx = row[j];
          }
          if (mx == kNegInf) {
            std::fill(p, p + Sk, 0.0);  // every key masked out: the row gives zeros
            continue;
          }
          double sum = 0;
          for (int64_t j = 0; j < Sk; ++j) sum += (p[j] = std::exp(row[j] - mx));
          for (int64_t j = 0; j < Sk; ++j) p[j] /= sum;
        }
        matmul_acc<double>(pv, probs.data(), vh.data(), out.data());
        for (int64_t i = 0; i < Sq; ++i) {
          for (int64_t c = 0; c < Dv; ++c) {
            yp[(b * Sq + i) * Ev + h * Dv + c] = static_cast<T>(static_cast<C>(out[static_cast<size_t>(i * Dv + c)]));
          }
        }
      }
    }
    return ok_status();
  });
}

}  // namespace kiln
