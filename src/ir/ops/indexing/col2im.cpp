// Col2Im: input [N, C * prod(block_shape), L] -> [N, C, *image_shape], summing overlapping blocks.
#include "ir/ops/indexing/indexing_infer.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {
namespace {

Status infer_col2im(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 0, "input", 3));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 1, "image_shape", 1));
  KILN_RETURN_IF_ERROR(indexing::check_rank(ctx, 2, "block_shape", 1));
  for (size_t i = 1; i <= 2; ++i) {
    if (ctx.input_dtype(i) != DataType::kUndefined && ctx.input_dtype(i) != DataType::kInt64) {
      return ctx.error(fmt::format("input {} has dtype {}, expected int64", i, dtype_name(ctx.input_dtype(i))));
    }
  }
  const DataType dt = ctx.input_dtype(0);
  const MaybeShape& xs = ctx.input_shape(0);
  const Tensor* img = ctx.input_value(1);
  const Tensor* blk = ctx.input_value(2);
  Dim n = xs ? (*xs)[0] : Dim::unknown();
  Dim c = Dim::unknown();
  if (blk && xs && (*xs)[1].is_known()) {
    auto b = read_int64s(*blk);
    if (!b.ok()) return ctx.error(b.status().message());
    int64_t prod = 1;
    for (int64_t v : *b) {
      if (v <= 0) return ctx.error(fmt::format("block_shape value {} must be positive", v));
      prod *= v;
    }
    if ((*xs)[1].value % prod != 0) {
      return ctx.error(fmt::format("input dim 1 ({}) is not divisible by the block size {}", (*xs)[1].value, prod));
    }
    c = Dim::known((*xs)[1].value / prod);
  }
  if (!img) {
    const MaybeShape& is = ctx.input_shape(1);
    if (is && (*is)[0].is_known()) {
      SymShape out{n, c};
      out.resize(static_cast<size_t>(2 + (*is)[0].value), Dim::unknown());
      ctx.set_output(0, dt, std::move(out));
    } else {
      ctx.set_output(0, dt, std::nullopt);
    }
    return ok_status();
  }
  auto iv = read_int64s(*img);
  if (!iv.ok()) return ctx.error(iv.status().message());
  SymShape out{n, c};
  for (int64_t v : *iv) {
    if (v < 0) return ctx.error(fmt::format("image_shape value {} must be >= 0", v));
    out.push_back(Dim::known(v));
  }
  ctx.set_output(0, dt, std::move(out));
  return ok_status();
}

}  // namespace

void register_col2im(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Col2Im";
  s.min_inputs = s.max_inputs = 3;
  s.infer = infer_col2im;
  r.add(std::move(s));
}

}  // namespace kiln
