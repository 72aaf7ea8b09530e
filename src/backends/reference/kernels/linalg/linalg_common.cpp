// Helpers shared by the linalg reference kernels.
#include "backends/reference/kernels/linalg/linalg_kernels.h"
#include "backends/reference/ref_util.h"
#include "fmt/format.h"
#include "ir/ops/linalg/quant_util.h"

namespace kiln {

std::vector<double> tensor_as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(std::max<int64_t>(t.numel(), 0)));
  if (dtype_is_lowbit(t.dtype())) {  // float8 and int4/uint4: exact in float
    (void)dispatch_lowbit(t.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = t.data_as<T>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<float>(p[i]));
      return ok_status();
    });
    return v;
  }
  (void)dispatch_all(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>(static_cast<compute_t<T>>(p[i]));
    return ok_status();
  });
  return v;
}

std::vector<int64_t> tensor_as_int64s(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(t.numel(), 0)));
  (void)dispatch_int(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data_as<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(p[i]);
    return ok_status();
  });
  return v;
}

Result<MatMulShape> matmul_shape(const KernelContext& ctx, const Dims& a, const Dims& b) {
  if (a.empty() || b.empty()) {
    return ctx.error(fmt::format("operands must have rank >= 1, got [{}] and [{}]",
                                 dims_to_string(a), dims_to_string(b)));
  }
  Dims A = a, B = b;
  if (a.size() == 1) A.insert(A.begin(), 1);
  if (b.size() == 1) B.push_back(1);
  MatMulShape s;
  s.M = A[A.size() - 2];
  s.K = A[A.size() - 1];
  s.N = B[B.size() - 1];
  if (B[B.size() - 2] != s.K) {
    return ctx.error(fmt::format("inner dims differ: A is [{}], B is [{}]", dims_to_string(a),
                                 dims_to_string(b)));
  }
  const Dims ba(A.begin(), A.end() - 2), bb(B.begin(), B.end() - 2);
  const size_t r = std::max(ba.size(), bb.size());
  Dims batch(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t x = i < r - ba.size() ? 1 : ba[i - (r - ba.size())];
    const int64_t y = i < r - bb.size() ? 1 : bb[i - (r - bb.size())];
    if (x != y && x != 1 && y != 1) {
      return ctx.error(fmt::format("batch dims of A [{}] and B [{}] do not broadcast",
                                   dims_to_string(a), dims_to_string(b)));
    }
    batch[i] = x == 1 ? y : x;
  }
  s.batch = element_count(batch);
  s.out = batch;
  if (a.size() != 1) s.out.push_back(s.M);
  if (b.size() != 1) s.out.push_back(s.N);
  s.a_off.reserve(static_cast<size_t>(s.batch));
  s.b_off.reserve(static_cast<size_t>(s.batch));
  for_each_broadcast(batch, {ba, bb}, [&](int64_t, const std::vector<int64_t>& offs) {
    s.a_off.push_back(offs[0] * s.M * s.K);
    s.b_off.push_back(offs[1] * s.K * s.N);
  });
  return s;
}

}  // namespace kiln

namespace kiln {

Result<std::vector<double>> expand_matmul_param(const KernelContext& ctx, const Tensor& p,
                                                const Dims& x, bool rows, const char* name) {
  const std::vector<double> v = tensor_as_doubles(p);
  const int64_t n = element_count(x);
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  if (v.size() == 1) {
    std::fill(out.begin(), out.end(), v[0]);
    return out;
  }
  Dims pd = p.shape();
  if (pd.size() == 1 && x.size() >= 2) {
    // Per row: [M] -> [M, 1]; per column: [N] stays a trailing dim.
    if (rows) pd.push_back(1);
  }
  bool ok = pd.size() <= x.size();
  for (size_t i = 0; ok && i < pd.size(); ++i) {
    const int64_t want = x[x.size() - pd.size() + i];
    ok = pd[i] == want || pd[i] == 1;
  }
  if (!ok) {
    return ctx.error(fmt::format(
        "input '{}' has shape [{}], which does not fit its operand [{}] (expected a scalar, "
        "a 1-D tensor of its {} or a broadcastable shape)",
        name, dims_to_string(p.shape()), dims_to_string(x), rows ? "rows" : "columns"));
  }
  for_each_broadcast(x, {pd}, [&](int64_t lin, const std::vector<int64_t>& offs) {
    out[static_cast<size_t>(lin)] = v[static_cast<size_t>(offs[0])];
  });
  return out;
}

Result<QuantLayout> quant_layout_for(const KernelContext& ctx, const Tensor& x, const Tensor& scale,
                                     const Tensor* zp, const char* scale_name,
                                     const char* zp_name) {
  const int opset = ctx.node().opset;
  const int64_t block = opset >= 21 ? ctx.attrs().get_int("block_size", 0) : 0;
  auto q =
      quant_layout(x.shape(), scale.shape(), ctx.attrs().get_int("axis", 1), block, scale_name);
  if (!q.ok()) return ctx.error(q.status().message());
  if (zp && zp->numel() != scale.numel()) {
    return ctx.error(fmt::format("input '{}' {} and input '{}' {} must have the same shape",
                                 zp_name, zp->describe(), scale_name, scale.describe()));
  }
  return q;
}

}  // namespace kiln
