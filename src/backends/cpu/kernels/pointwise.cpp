// The per-ISA bodies of VecKernels (pointwise_body.inc, compiled three times) and the
// broadcasting layouts the elementwise kernels share. See pointwise.h.
#include "backends/cpu/kernels/pointwise.h"

#include <cmath>
#include <cstdint>

#include "backends/cpu/kernels/vec_f32.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cpu {

namespace vec {

// gcc notes that a captureless lambda's function-pointer thunk returns a vector register under a
// target the file's default ABI lacks; the bodies are only ever called inside this file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

#define KILN_VEC_BODY "backends/cpu/kernels/pointwise_body.inc"
#define KILN_VEC_PORTABLE VecF32x1
#include "backends/cpu/kernels/vec_per_isa.inc"

#pragma GCC diagnostic pop

}  // namespace vec

const VecKernels& vec_kernels_for(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kAvx512:
      return vec::avx512::kKernels;
    case VectorIsa::kAvx2:
      return vec::avx2::kKernels;
    case VectorIsa::kScalar:
      return vec::portable::kKernels;
  }
  return vec::portable::kKernels;
}

const VecKernels& vec_kernels() {
  static const VecKernels& k = vec_kernels_for(vector_isa());
  return k;
}

UnaryOp unary_from_activation(Activation a, float alpha, float beta) {
  return unary_op_for_activation<UnaryOp>(a, alpha, beta);
}

bool unary_is_heavy(UnaryKind k) {
  switch (k) {
    case UnaryKind::kSigmoid:
    case UnaryKind::kTanh:
    case UnaryKind::kSilu:
    case UnaryKind::kGelu:
    case UnaryKind::kGeluTanh:
    case UnaryKind::kExp:
    case UnaryKind::kLog:
    case UnaryKind::kErf:
    case UnaryKind::kSoftplus:
      return true;
    default:
      return false;
  }
}

bool broadcast_dims(const Dims& a, const Dims& b, Dims& out) {
  const size_t r = a.size() > b.size() ? a.size() : b.size();
  if (r > static_cast<size_t>(kMaxBroadcastRank)) return false;
  out.resize(r);
  for (size_t d = 0; d < r; ++d) {
    const int64_t da = d + a.size() >= r ? a[d + a.size() - r] : 1;
    const int64_t db = d + b.size() >= r ? b[d + b.size() - r] : 1;
    if (da == db || db == 1) {
      out[d] = da;
    } else if (da == 1) {
      out[d] = db;
    } else {
      return false;
    }
  }
  return true;
}

bool make_broadcast_layout(const Dims* const* operands, int count, const Dims& out,
                           BroadcastLayout& l) {
  const size_t r = out.size();
  if (r > static_cast<size_t>(kMaxBroadcastRank) || count < 1 || count > 2) return false;
  l = BroadcastLayout{};
  l.operands = count;
  // reads[k][d]: operand k has out's extent along output dim d (rather than 1).
  bool reads[2][kMaxBroadcastRank] = {};
  for (int k = 0; k < count; ++k) {
    const Dims& o = *operands[k];
    if (o.size() > r) return false;
    for (size_t d = 0; d < r; ++d) {
      const int64_t od = d + o.size() >= r ? o[d + o.size() - r] : 1;
      if (od != out[d] && od != 1) return false;
      reads[k][d] = od == out[d];
    }
  }
  l.numel = 1;
  for (size_t d = 0; d < r; ++d) l.numel *= out[d];
  if (l.numel == 0) return true;
  bool group_reads[2][kMaxBroadcastRank] = {};
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;  // reads nothing: merges with anything
    bool same = l.rank > 0;
    for (int k = 0; k < count && same; ++k) same = group_reads[k][l.rank - 1] == reads[k][d];
    if (same) {
      l.dims[l.rank - 1] *= out[d];
      continue;
    }
    l.dims[l.rank] = out[d];
    for (int k = 0; k < count; ++k) group_reads[k][l.rank] = reads[k][d];
    ++l.rank;
  }
  for (int k = 0; k < count; ++k) {
    int64_t stride = 1;
    for (int g = l.rank - 1; g >= 0; --g) {
      l.strides[k][g] = group_reads[k][g] ? stride : 0;
      if (group_reads[k][g]) stride *= l.dims[g];
    }
  }
  return true;
}

}  // namespace kiln::cpu
