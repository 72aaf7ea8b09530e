// Inference helpers shared by several linalg schemas.
#include <algorithm>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/linalg/conv_util.h"
#include "ir/ops/linalg/linalg_ops.h"

namespace kiln {

Status check_input_dtype(const InferenceContext& ctx, size_t i, const char* name,
                         std::initializer_list<DataType> allowed) {
  if (!ctx.has_input(i)) return ok_status();
  const DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined) return ok_status();
  if (std::find(allowed.begin(), allowed.end(), t) != allowed.end()) return ok_status();
  std::string names;
  for (DataType a : allowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(a);
  const std::string msg =
      fmt::format("input {} '{}' has dtype {} (expected {})", i, name, dtype_name(t), names);
  // Types ONNX allows but kiln tensors cannot hold (float8, int4, string, complex).
  if (!dtype_is_supported(t)) return ctx.unsupported_error(msg);
  return ctx.error(msg);
}

Result<MaybeShape> infer_matmul_shape(const InferenceContext& ctx, size_t a, size_t b) {
  return infer_matmul_shape(ctx, ctx.input_shape(a), ctx.input_shape(b));
}

Result<MaybeShape> infer_matmul_shape(const InferenceContext& ctx, const MaybeShape& sa, const MaybeShape& sb) {
  if (!sa || !sb) return MaybeShape{};
  if (sa->empty() || sb->empty())
    return ctx.error("MatMul operands must have rank >= 1, got a scalar");
  SymShape A = *sa, B = *sb;
  const bool a1 = A.size() == 1, b1 = B.size() == 1;
  if (a1) A.insert(A.begin(), Dim::known(1));
  if (b1) B.push_back(Dim::known(1));
  const Dim& ka = A[A.size() - 1];
  const Dim& kb = B[B.size() - 2];
  if (ka.is_known() && kb.is_known() && ka.value != kb.value) {
    return ctx.error(fmt::format("inner dims differ: {} (shape {}) vs {} (shape {})", ka.value,
                                 shape_to_string(*sa), kb.value, shape_to_string(*sb)));
  }
  SymShape batch_a(A.begin(), A.end() - 2), batch_b(B.begin(), B.end() - 2);
  auto batch = broadcast_shapes(batch_a, batch_b);
  if (!batch.ok()) return ctx.error(batch.status().message());
  SymShape out = std::move(batch).value();
  if (!a1) out.push_back(A[A.size() - 2]);
  if (!b1) out.push_back(B[B.size() - 1]);
  return MaybeShape{out};
}

Result<MaybeShape> infer_conv_shape(const InferenceContext& ctx, size_t x, size_t w) {
  return infer_conv_shape_of(ctx, ctx.input_shape(x), ctx.input_shape(w));
}

Result<MaybeShape> infer_conv_shape_of(const InferenceContext& ctx, const MaybeShape& sx, const MaybeShape& sw) {
  if (!sx && !sw) return MaybeShape{};
  const size_t rank = sx ? sx->size() : sw->size();
  if (rank < 3)
    return ctx.error(fmt::format("input rank is {}, expected >= 3 (N, C, spatial...)", rank));
  if (sx && sw && sx->size() != sw->size()) {
    return ctx.error(fmt::format("X {} and W {} have different ranks", shape_to_string(sx),
                                 shape_to_string(sw)));
  }
  const size_t ns = rank - 2;
  // The reference kernels handle 1-D to 3-D (every conv kiln has met in practice).
  if (ns > 3)
    return ctx.unsupported_error(fmt::format("{}-D convolution (at most 3 spatial dims)", ns));
  std::vector<int64_t> wk(ns, -1);
  if (sw) {
    for (size_t i = 0; i < ns; ++i) wk[i] = (*sw)[i + 2].value;
  }
  auto params = read_conv_params(ctx.attrs(), ns, wk, false);
  if (!params.ok()) return ctx.error(params.status().message());
  const ConvParams& p = *params;
  if (sx && sw) {
    const Dim& c = (*sx)[1];
    const Dim& wc = (*sw)[1];
    if (c.is_known() && wc.is_known() && c.value != wc.value * p.group) {
      return ctx.error(fmt::format("X has {} channels but W {} expects {} (group {})", c.value,
                                   shape_to_string(sw), wc.value * p.group, p.group));
    }
  }
  if (sw && (*sw)[0].is_known() && (*sw)[0].value % p.group != 0) {
    return ctx.error(fmt::format("W has {} output channels, not a multiple of group {}",
                                 (*sw)[0].value, p.group));
  }
  SymShape out(rank, Dim::unknown());
  if (sx) out[0] = (*sx)[0];
  if (sw) out[1] = (*sw)[0];
  for (size_t i = 0; i < ns; ++i) {
    if (!sx || !(*sx)[i + 2].is_known() || p.kernel[i] < 0) continue;
    auto d = conv_output_dim(p, i, (*sx)[i + 2].value);
    if (!d.ok()) return ctx.error(d.status().message());
    out[i + 2] = Dim::known(d->out);
  }
  return MaybeShape{out};
}

}  // namespace kiln
