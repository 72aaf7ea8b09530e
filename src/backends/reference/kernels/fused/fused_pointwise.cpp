// FusedPointwise: the steps of an elementwise chain applied in order to a running value that
// starts at X. Each step computes as the unfused op's reference kernel does (unary_math.cpp,
// arithmetic.cpp, pow.cpp, variadic.cpp's Max/Min, the activations) and the running value is
// rounded to X's dtype after every step, as the unfused chain stores every intermediate tensor.
#include <cmath>
#include <utility>

#include "backends/reference/kernels/fused/fused_kernels.h"
#include "fmt/format.h"

namespace kiln {

namespace {

template <typename T>
compute_t<T> unary_step(const PointwiseStep& s, compute_t<T> v) {
  using C = compute_t<T>;
  switch (s.kind) {
    case PointwiseKind::kActivation:
      return apply_activation_as<T>(s.activation, v, s.alpha, s.beta);
    case PointwiseKind::kExp:
      return std::exp(v);
    case PointwiseKind::kLog:
      return std::log(v);
    case PointwiseKind::kSqrt:
      return std::sqrt(v);
    case PointwiseKind::kNeg:
      return -v;
    case PointwiseKind::kAbs:
      return std::abs(v);
    case PointwiseKind::kErf:
      return std::erf(v);
    case PointwiseKind::kReciprocal:
      return C(1) / v;
    case PointwiseKind::kFloor:
      return std::floor(v);
    case PointwiseKind::kCeil:
      return std::ceil(v);
    default:
      return v;  // binary kinds never reach here
  }
}

// op(a, b) with a the left-hand operand.
template <typename T>
compute_t<T> binary_step(PointwiseKind kind, compute_t<T> a, compute_t<T> b) {
  using C = compute_t<T>;
  switch (kind) {
    case PointwiseKind::kAdd:
      return a + b;
    case PointwiseKind::kSub:
      return a - b;
    case PointwiseKind::kMul:
      return a * b;
    case PointwiseKind::kDiv:
      return a / b;
    case PointwiseKind::kPow:
      // Pow computes in double and rounds once.
      return static_cast<C>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case PointwiseKind::kMax:
    case PointwiseKind::kMin: {
      // Max/Min fold left to right; NaN wins, as with numpy's maximum/minimum.
      const bool take = (kind == PointwiseKind::kMax ? b > a : b < a) || std::isnan(b);
      return take ? b : a;
    }
    default:
      return a;  // unary kinds never reach here
  }
}

}  // namespace

Status ref_fused_pointwise(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const Tensor* x, fused_required_input(ctx, 0, "X"));
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.input(i)) return ctx.error(fmt::format("input {} 'E{}' is required but missing", i, i));
  }
  KILN_RETURN_IF_ERROR(fused_check_dtypes(ctx, ctx.num_inputs()));
  auto steps = read_pointwise_steps(ctx.attrs(), ctx.num_inputs());
  if (!steps.ok()) return ctx.error(steps.status().message());
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!fused_fits(ctx.input(i)->shape(), x->shape())) {  // the name is formatted only for the error
      return fused_check_fits(ctx, ctx.input(i), x->shape(), fmt::format("input {} 'E{}'", i, i).c_str());
    }
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  return dispatch_float(x->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* yp = y->data_as<T>();
    const T* xp = x->data_as<T>();
    const int64_t n = x->numel();
    std::copy(xp, xp + n, yp);
    for (const PointwiseStep& s : *steps) {
      if (!s.binary()) {
        for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<T>(unary_step<T>(s, static_cast<C>(yp[i])));
        continue;
      }
      const Tensor& e = *ctx.input(s.operand);
      const T* ep = e.data_as<T>();
      for_each_broadcast(x->shape(), {e.shape()}, [&](int64_t i, const std::vector<int64_t>& off) {
        C a = static_cast<C>(yp[i]), b = static_cast<C>(ep[off[0]]);
        if (s.swapped) std::swap(a, b);
        yp[i] = static_cast<T>(binary_step<T>(s.kind, a, b));
      });
    }
    return ok_status();
  });
}

}  // namespace kiln
