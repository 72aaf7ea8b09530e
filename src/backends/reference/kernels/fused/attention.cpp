// Attention: per batch and head, S = scale * Q_h @ K_h^T + mask (causally masked keys at -inf),
// Y_h = softmax(S over keys) @ V_h, heads split from and merged back into the last dim. The two
// products run through MatMul's loops (matmul_acc, in double). The scores are rounded to the
// compute type (fp32; fp64 for float64 inputs) as the unfused MatMul/Add chain stores them, so a
// row masked with a huge negative number behaves as it does unfused; softmax statistics are in
// double. A row whose keys are all masked out (-inf) gives zeros.
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

}  // namespace

Status ref_attention(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* q, fused_required_input(ctx, 0, "Q"));
  KILN_ASSIGN_OR_RETURN(const Tensor* k, fused_required_input(ctx, 1, "K"));
  KILN_ASSIGN_OR_RETURN(const Tensor* v, fused_required_input(ctx, 2, "V"));
  const Tensor* mask = ctx.input(3);
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, 4));
  auto heads = ctx.attrs().require_int("num_heads");
  if (!heads.ok()) return ctx.error(heads.status().message());
  const int64_t H = *heads;
  if (H < 1) return ctx.error(fmt::format("attribute 'num_heads' is {}, expected >= 1", H));
  const int64_t causal = ctx.attrs().get_int("causal", 0);
  if (causal != 0 && causal != 1) return ctx.error(fmt::format("attribute 'causal' is {}, expected 0 or 1", causal));
  if (q->rank() != 3 || k->rank() != 3 || v->rank() != 3) {
    return ctx.error(fmt::format("Q {}, K {} and V {} must have rank 3", q->describe(), k->describe(), v->describe()));
  }
  const int64_t B = q->dim(0), Sq = q->dim(1), E = q->dim(2), Sk = k->dim(1), Ev = v->dim(2);
  if (k->dim(0) != B || v->dim(0) != B || v->dim(1) != Sk || k->dim(2) != E) {
    return ctx.error(fmt::format("Q {}, K {} and V {} disagree (expected [B, Sq, H*Dh], [B, Sk, H*Dh], [B, Sk, H*Dv])",
                                 q->describe(), k->describe(), v->describe()));
  }
  if (E % H != 0 || Ev % H != 0) {
    return ctx.error(fmt::format("the hidden sizes of Q {} and V {} must be divisible by num_heads {}", q->describe(),
                                 v->describe(), H));
  }
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
    const T* qp = q->data_as<T>();
    const T* kp = k->data_as<T>();
    const T* vp = v->data_as<T>();
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
          for (int64_t c = 0; c < Dh; ++c) qh[static_cast<size_t>(i * Dh + c)] = d(qp[(b * Sq + i) * E + h * Dh + c]);
        }
        for (int64_t j = 0; j < Sk; ++j) {
          for (int64_t c = 0; c < Dh; ++c) kt[static_cast<size_t>(c * Sk + j)] = d(kp[(b * Sk + j) * E + h * Dh + c]);
          for (int64_t c = 0; c < Dv; ++c) vh[static_cast<size_t>(j * Dv + c)] = d(vp[(b * Sk + j) * Ev + h * Dv + c]);
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
