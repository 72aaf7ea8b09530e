// The ten Reduce* kernels share one implementation (one function per op selects its kind): they
// differ only in how elements combine and how the result is finished.
//
// Floats accumulate in double and round once when stored. Integers use exact wrapping integer
// arithmetic for Sum/Prod/SumSquare/L1 (as numpy does), their own type for Max/Min, and double
// for Mean/L2/LogSum/LogSumExp (numpy computes those in float64 and casts back, truncating).
// An empty reduction gives the identity: 0 for sums, 1 for Prod, -inf/lowest for Max,
// +inf/highest for Min, -inf for LogSum/LogSumExp, NaN for a float Mean.
#include <cstring>
#include <vector>

#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln {
namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

bool integer_exact(ReduceKind k) {
  return k == ReduceKind::kSum || k == ReduceKind::kProd || k == ReduceKind::kSumSquare || k == ReduceKind::kL1;
}

// Reduces x into y. out_of maps an input element's linear index to its output's linear index.
template <typename T>
void reduce_typed(ReduceKind kind, const Tensor& x, Tensor& y, const std::vector<int64_t>& out_of) {
  const T* in = x.data_as<T>();
  T* out = y.data_as<T>();
  const int64_t n = x.numel();
  const int64_t m = y.numel();
  if (m <= 0) return;
  const double count = static_cast<double>(n / m);

  if constexpr (!kIsFloatElem<T>) {
    if (kind == ReduceKind::kMax || kind == ReduceKind::kMin) {
      const bool is_max = kind == ReduceKind::kMax;
      // uint8_t slots for bool: std::vector<bool> has no element references.
      using Slot = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;
      const T init = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
      std::vector<Slot> acc(static_cast<size_t>(m), static_cast<Slot>(init));
      for (int64_t i = 0; i < n; ++i) {
        Slot& a = acc[static_cast<size_t>(out_of[static_cast<size_t>(i)])];
        const Slot v = static_cast<Slot>(in[i]);
        if (is_max ? v > a : v < a) a = v;
      }
      for (int64_t j = 0; j < m; ++j) out[j] = static_cast<T>(acc[static_cast<size_t>(j)]);
      return;
    }
    if (integer_exact(kind)) {
      // Unsigned 64-bit arithmetic wraps like the narrower type does once truncated back.
      std::vector<uint64_t> acc(static_cast<size_t>(m), kind == ReduceKind::kProd ? 1u : 0u);
      for (int64_t i = 0; i < n; ++i) {
        const uint64_t v = static_cast<uint64_t>(static_cast<int64_t>(in[i]));
        uint64_t& a = acc[static_cast<size_t>(out_of[static_cast<size_t>(i)])];
        switch (kind) {
          case ReduceKind::kSum: a += v; break;
          case ReduceKind::kProd: a *= v; break;
          case ReduceKind::kSumSquare: a += v * v; break;
          default: {  // L1
            bool neg = false;
            if constexpr (std::is_signed_v<T>) neg = in[i] < 0;
            a += neg ? (0 - v) : v;
            break;
          }
        }
      }
      for (int64_t j = 0; j < m; ++j) out[j] = static_cast<T>(acc[static_cast<size_t>(j)]);
      return;
    }
  }

  // Double path: floats, and Mean/L2/LogSum/LogSumExp of integers.
  std::vector<double> mx;
  if (kind == ReduceKind::kLogSumExp) {
    mx.assign(static_cast<size_t>(m), -std::numeric_limits<double>::infinity());
    for (int64_t i = 0; i < n; ++i) {
      const double v = elem_to_double(in[i]);
      double& a = mx[static_cast<size_t>(out_of[static_cast<size_t>(i)])];
      if (std::isnan(v) || v > a) a = std::isnan(a) ? a : v;
    }
  }
  double init = 0;
  if (kind == ReduceKind::kProd) init = 1;
  if (kind == ReduceKind::kMax) init = -std::numeric_limits<double>::infinity();
  if (kind == ReduceKind::kMin) init = std::numeric_limits<double>::infinity();
  std::vector<double> acc(static_cast<size_t>(m), init);
  for (int64_t i = 0; i < n; ++i) {
    const double v = elem_to_double(in[i]);
    const size_t o = static_cast<size_t>(out_of[static_cast<size_t>(i)]);
    double& a = acc[o];
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kMean:
      case ReduceKind::kLogSum: a += v; break;
      case ReduceKind::kProd: a *= v; break;
      case ReduceKind::kL1: a += std::fabs(v); break;
      case ReduceKind::kL2:
      case ReduceKind::kSumSquare: a += v * v; break;
      case ReduceKind::kMax:  // NaN propagates, as in numpy
        if (std::isnan(v) || v > a) a = std::isnan(a) ? a : v;
        break;
      case ReduceKind::kMin:
        if (std::isnan(v) || v < a) a = std::isnan(a) ? a : v;
        break;
      case ReduceKind::kLogSumExp:
        // With an infinite or NaN max the result is that max; skip to avoid inf - inf.
        if (std::isfinite(mx[o])) a += std::exp(v - mx[o]);
        break;
    }
  }
  for (int64_t j = 0; j < m; ++j) {
    double r = acc[static_cast<size_t>(j)];
    switch (kind) {
      case ReduceKind::kMean: r = r / count; break;
      case ReduceKind::kL2: r = std::sqrt(r); break;
      case ReduceKind::kLogSum: r = std::log(r); break;
      case ReduceKind::kLogSumExp: {
        const double mj = mx[static_cast<size_t>(j)];
        r = std::isfinite(mj) ? mj + std::log(r) : mj;
        break;
      }
      default: break;
    }
    out[j] = elem_from_double<T>(r);
  }
}

Status reduce_impl(KernelContext& ctx, ReduceKind kind) {
  const Tensor& x = *ctx.input(0);
  const Node& node = ctx.node();
  const bool from_input = reduce_axes_from_input(node.op_type, node.opset);
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  const bool noop = from_input && ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;
  if (x.dtype() == DataType::kBool && kind != ReduceKind::kMax && kind != ReduceKind::kMin) {
    return ctx.unsupported_error(fmt::format("{} does not take bool input", node.op_type));
  }

  std::vector<int64_t> axes;
  if (!from_input) {
    axes = ctx.attrs().get_ints("axes");
  } else if (const Tensor* a = ctx.input(1)) {
    auto r = read_int64s(*a);
    if (!r.ok()) return ctx.error(fmt::format("input 1 'axes': {}", r.status().message()));
    axes = std::move(r).value();
  }
  if (axes.empty() && noop) {
    // The spec: with no axes and noop_with_empty_axes the output is the input, unchanged.
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), x.shape()));
    if (x.nbytes() > 0) std::memcpy(y->data(), x.data(), x.nbytes());
    return ok_status();
  }
  const int64_t rank = x.rank();
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  if (!axes.empty()) {
    auto r = normalize_reduce_axes(axes, rank);
    if (!r.ok()) return ctx.error(r.status().message());
    for (int64_t a : *r) reduced[static_cast<size_t>(a)] = true;
  }
  Dims kept, out_dims;  // kept: with the reduced dims as 1
  for (int64_t i = 0; i < rank; ++i) {
    const bool red = reduced[static_cast<size_t>(i)];
    kept.push_back(red ? 1 : x.dim(i));
    if (!red || keepdims) out_dims.push_back(red ? 1 : x.dim(i));
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x.dtype(), out_dims));

  // Output linear index of each input element.
  const std::vector<int64_t> ostr = contiguous_strides(kept);
  std::vector<int64_t> out_of(static_cast<size_t>(std::max<int64_t>(x.numel(), 0)));
  for_each_index(x.shape(), [&](int64_t lin, const std::vector<int64_t>& idx) {
    int64_t o = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      if (!reduced[d]) o += idx[d] * ostr[d];
    }
    out_of[static_cast<size_t>(lin)] = o;
  });
  return dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    reduce_typed<T>(kind, x, *y, out_of);
    return ok_status();
  });
}

}  // namespace

Status ref_reduce_sum(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kSum); }
Status ref_reduce_mean(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kMean); }
Status ref_reduce_max(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kMax); }
Status ref_reduce_min(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kMin); }
Status ref_reduce_prod(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kProd); }
Status ref_reduce_l1(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kL1); }
Status ref_reduce_l2(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kL2); }
Status ref_reduce_log_sum(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kLogSum); }
Status ref_reduce_log_sum_exp(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kLogSumExp); }
Status ref_reduce_sum_square(KernelContext& ctx) { return reduce_impl(ctx, ReduceKind::kSumSquare); }

}  // namespace kiln
