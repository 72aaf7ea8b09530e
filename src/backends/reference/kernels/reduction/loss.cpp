// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss share one core (SCE is NLL applied to
// LogSoftmax over axis 1), so both kernels live here. Computed in double, rounded once.
//   loss[n, d] = -weight[t] * logp[n, t, d] with t = target[n, d]; 0 (and weight 0) where
//   t == ignore_index. "sum" adds the losses; "mean" divides that sum by the sum of the weights
//   used (the count of non-ignored targets without a weight input).
#include <cmath>
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"

namespace kiln {
namespace {

// d1 * ... * dk of an [N, C, d1..dk] input (1 for rank 2).
int64_t spatial_size(const Tensor& x) {
  int64_t d = 1;
  for (int64_t i = 2; i < x.rank(); ++i) d *= x.dim(i);
  return d;
}

// Writes output 0 from log-probabilities laid out as [N, C, D].
Status nll_core(KernelContext& ctx, const Tensor& input, const std::vector<double>& logp) {
  const Tensor& target = *ctx.input(1);
  const Tensor* weight = ctx.input(2);
  const std::string reduction = ctx.attrs().get_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    return ctx.error(fmt::format("reduction '{}' is not one of none, sum, mean", reduction));
  }
  const int64_t n = input.dim(0);
  const int64_t c = input.dim(1);
  const int64_t d = spatial_size(input);
  Dims expect_target = input.shape();
  expect_target.erase(expect_target.begin() + 1);
  if (target.shape() != expect_target) {
    return ctx.error(fmt::format("target shape {} does not match input shape {} (expected {})",
                                 dims_to_string(target.shape()), dims_to_string(input.shape()),
                                 dims_to_string(expect_target)));
  }
  auto tv = read_int64s(target);
  if (!tv.ok()) return ctx.error(fmt::format("input 1 (target): {}", tv.status().message()));
  std::vector<double> w;
  if (weight != nullptr) {
    if (weight->rank() != 1 || weight->dim(0) != c) {
      return ctx.error(fmt::format("weight shape {} does not match the {} classes of input 0",
                                   dims_to_string(weight->shape()), c));
    }
    auto wv = read_doubles(*weight);
    if (!wv.ok()) return ctx.error(fmt::format("input 2 (weight): {}", wv.status().message()));
    w = std::move(wv).value();
  }
  const bool has_ignore = ctx.attrs().has("ignore_index");
  const int64_t ignore = ctx.attrs().get_int("ignore_index", 0);

  std::vector<double> loss(static_cast<size_t>(n * d), 0.0);
  double loss_sum = 0, weight_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const int64_t t = (*tv)[static_cast<size_t>(i * d + j)];
      if (has_ignore && t == ignore) continue;
      if (t < 0 || t >= c) return ctx.error(fmt::format("target value {} is out of range [0, {})", t, c));
      const double wt = w.empty() ? 1.0 : w[static_cast<size_t>(t)];
      const double l = -wt * logp[static_cast<size_t>((i * c + t) * d + j)];
      loss[static_cast<size_t>(i * d + j)] = l;
      loss_sum += l;
      weight_sum += wt;
    }
  }
  const Dims out_dims = reduction == "none" ? expect_target : Dims{};
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, input.dtype(), out_dims));
  return dispatch_float(input.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y->data_as<T>();
    if (reduction == "none") {
      for (size_t i = 0; i < loss.size(); ++i) out[i] = elem_from_double<T>(loss[i]);
    } else {
      out[0] = elem_from_double<T>(reduction == "sum" ? loss_sum : loss_sum / weight_sum);
    }
    return ok_status();
  });
}

Status check_loss_input(KernelContext& ctx, const Tensor& x) {
  if (x.rank() < 2) return ctx.error(fmt::format("input 0 has rank {}, expected >= 2", x.rank()));
  if (!dtype_is_float(x.dtype())) {
    return ctx.unsupported_error(fmt::format("input 0 has dtype {} (expected a float type)", dtype_name(x.dtype())));
  }
  return ok_status();
}

}  // namespace

Status ref_negative_log_likelihood_loss(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_RETURN_IF_ERROR(check_loss_input(ctx, x));
  auto v = read_doubles(x);
  if (!v.ok()) return ctx.error(v.status().message());
  return nll_core(ctx, x, *v);
}

Status ref_softmax_cross_entropy_loss(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  KILN_RETURN_IF_ERROR(check_loss_input(ctx, x));
  auto v = read_doubles(x);
  if (!v.ok()) return ctx.error(v.status().message());
  std::vector<double>& logp = *v;
  // LogSoftmax over axis 1 of [N, C, D].
  const int64_t n = x.dim(0);
  const int64_t c = x.dim(1);
  const int64_t d = spatial_size(x);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      auto at = [&](int64_t k) { return static_cast<size_t>((i * c + k) * d + j); };
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < c; ++k) mx = std::max(mx, logp[at(k)]);
      double sum = 0;
      for (int64_t k = 0; k < c; ++k) sum += std::exp(logp[at(k)] - mx);
      const double lse = mx + std::log(sum);
      for (int64_t k = 0; k < c; ++k) logp[at(k)] -= lse;
    }
  }
  KILN_RETURN_IF_ERROR(nll_core(ctx, x, logp));
  if (ctx.num_outputs() > 1) {
    KILN_ASSIGN_OR_RETURN(Tensor * lp, ctx.allocate_output(1, x.dtype(), x.shape()));
    return dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* out = lp->data_as<T>();
      for (size_t i = 0; i < logp.size(); ++i) out[i] = elem_from_double<T>(logp[i]);
      return ok_status();
    });
  }
  return ok_status();
}

}  // namespace kiln
