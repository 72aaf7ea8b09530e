// Softmax and LogSoftmax (f32) on kiln's own vector kernels (softmax_body.inc), over the
// [outer, len, inner] view of the input the reference uses (the coerced 2-D view before opset 13):
// contiguous rows when inner is 1, else vectors across inner walking the axis. Threaded with
// parallel_for over rows or (outer, column block) units.
#include <algorithm>
#include <cmath>
#include <memory>

#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/cpu/kernels/vec_f32.h"
#include "backends/reference/kernels/reduction/reduction_kernels.h"
#include "core/parallel.h"
#include "ir/ops/reduction/reduce_util.h"

namespace kiln::cpu {

namespace {
// Columns per strided unit: a whole number of vectors of every width, the block's statistics
// (2 KiB) on the stack.
constexpr int64_t kColumnBlock = 256;
}  // namespace

namespace softmax_isa {
#define KILN_VEC_BODY "backends/cpu/kernels/softmax_body.inc"
#define KILN_VEC_PORTABLE VecF32x4
#include "backends/cpu/kernels/vec_per_isa.inc"
}  // namespace softmax_isa

namespace {

using RowsFn = void (*)(const float*, float*, int64_t, int64_t, int64_t, bool);
using ColumnsFn = void (*)(const float*, float*, int64_t, int64_t, int64_t, int64_t, bool);

// Elements worth a thread (a few microseconds of exp).
constexpr int64_t kMinWork = 16384;

// One run's arguments, for the parallel_for bodies.
struct Call {
  RowsFn rows;
  ColumnsFn columns;
  const float* x;
  float* y;
  AxisSplit s;
  bool log;

  // Units u of (outer slab, column block).
  void run_columns(int64_t u0, int64_t u1) const {
    const int64_t blocks = (s.inner + kColumnBlock - 1) / kColumnBlock, slab = s.len * s.inner;
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t o = u / blocks, c0 = (u % blocks) * kColumnBlock;
      columns(x + o * slab, y + o * slab, s.len, s.inner, c0, std::min(s.inner, c0 + kColumnBlock), log);
    }
  }
};

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(bool log, bool coerce_2d, int64_t axis) : log_(log), coerce_2d_(coerce_2d), axis_(axis) {
    switch (vector_isa()) {
      case VectorIsa::kAvx512: rows_ = softmax_isa::avx512::contiguous_rows, columns_ = softmax_isa::avx512::strided_columns; break;
      case VectorIsa::kAvx2: rows_ = softmax_isa::avx2::contiguous_rows, columns_ = softmax_isa::avx2::strided_columns; break;
      case VectorIsa::kScalar: rows_ = softmax_isa::portable::contiguous_rows, columns_ = softmax_isa::portable::strided_columns; break;
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const KernelFn reference = log_ ? ref_log_softmax : ref_softmax;
    if (!x || x->dtype() != DataType::kFloat32) return reference(ctx);
    const int64_t rank = x->rank();
    int64_t axis = axis_;
    // Out of range: the reference reports it.
    if (coerce_2d_ ? (axis < -rank || axis > rank) : (axis < -rank || axis >= rank)) return reference(ctx);
    if (axis < 0) axis += rank;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    const AxisSplit s = split_at_axis(x->shape(), axis, coerce_2d_);
    if (s.outer == 0 || s.len == 0 || s.inner == 0) return ok_status();
    // One reference captured: std::function keeps a lambda this small without allocating.
    const Call call{rows_, columns_, x->data_as<float>(), y->data_as<float>(), s, log_};
    if (s.inner == 1) {
      parallel_for(s.outer, std::max<int64_t>(1, kMinWork / s.len), [&call](int64_t r0, int64_t r1) {
        call.rows(call.x, call.y, call.s.len, r0, r1, call.log);
      });
      return ok_status();
    }
    const int64_t blocks = (s.inner + kColumnBlock - 1) / kColumnBlock;
    parallel_for(s.outer * blocks, std::max<int64_t>(1, kMinWork / (s.len * std::min(s.inner, kColumnBlock))),
                 [&call](int64_t u0, int64_t u1) { call.run_columns(u0, u1); });
    return ok_status();
  }

 private:
  bool log_;
  bool coerce_2d_;
  int64_t axis_;
  RowsFn rows_ = softmax_isa::portable::contiguous_rows;
  ColumnsFn columns_ = softmax_isa::portable::strided_columns;
};

}  // namespace

bool softmax_supported(const Node& n) {
  if (n.num_inputs() != 1 || n.num_outputs() != 1 || !n.input(0) || !n.output(0)) return false;
  if (n.input(0)->dtype != DataType::kFloat32 || n.output(0)->dtype != DataType::kFloat32) return false;
  const Attribute* axis = n.attrs.find("axis");
  return !axis || axis->kind == Attribute::Kind::kInt;
}

Result<std::unique_ptr<Kernel>> make_softmax_kernel(const Node& n, bool log) {
  const bool coerce_2d = n.opset < 13;
  return std::unique_ptr<Kernel>(
      std::make_unique<SoftmaxKernel>(log, coerce_2d, n.attrs.get_int("axis", coerce_2d ? 1 : -1)));
}

}  // namespace kiln::cpu
