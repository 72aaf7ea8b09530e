// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp, ReduceSumSquare. One table and one inference function for all ten: they share
// the same attributes (keepdims, noop_with_empty_axes) and the same output shape rule, and
// differ only in the dtypes they take and the opset where `axes` became an input.
#include <optional>

#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduce_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {
namespace {

struct ReduceOpInfo {
  const char* op_type;
  bool takes_bool;  // ReduceMax/ReduceMin accept bool from opset 20
};

constexpr ReduceOpInfo kReduceOps[] = {
    {"ReduceSum", false},    {"ReduceMean", false}, {"ReduceMax", true},    {"ReduceMin", true},
    {"ReduceProd", false},   {"ReduceL1", false},   {"ReduceL2", false},    {"ReduceLogSum", false},
    {"ReduceLogSumExp", false}, {"ReduceSumSquare", false},
};

Status infer_reduce(InferenceContext& ctx, const ReduceOpInfo& info) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (dt == DataType::kBool && !info.takes_bool) {
    return ctx.unsupported_error(fmt::format("{} does not take bool input", info.op_type));
  }
  const bool from_input = reduce_axes_from_input(info.op_type, ctx.opset());
  const bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  const bool noop = from_input && ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;

  // The axes when known ahead; otherwise how many there are, when the axes input's shape says.
  std::optional<std::vector<int64_t>> axes;
  std::optional<int64_t> axes_count;
  if (!from_input) {
    if (ctx.has_input(1)) {
      return ctx.error(fmt::format("{} takes axes as an attribute at opset {}, not as input 1", info.op_type,
                                   ctx.opset()));
    }
    axes = ctx.attrs().get_ints("axes");
  } else if (!ctx.has_input(1)) {
    axes = std::vector<int64_t>{};
  } else {
    const DataType at = ctx.input_dtype(1);
    if (at != DataType::kUndefined && at != DataType::kInt64) {
      return ctx.error(fmt::format("input 1 'axes' must be int64, got {}", dtype_name(at)));
    }
    if (const Tensor* t = ctx.input_value(1)) {
      if (t->rank() > 1) return ctx.error(fmt::format("input 1 'axes' must be 1-D, got {}", t->describe()));
      auto r = read_int64s(*t);
      if (!r.ok()) return ctx.error(r.status().message());
      axes = std::move(r).value();
    } else if (const MaybeShape& as = ctx.input_shape(1); as && as->size() == 1 && (*as)[0].is_known()) {
      axes_count = (*as)[0].value;
    }
  }
  if (axes) axes_count = static_cast<int64_t>(axes->size());
  if (axes_count && *axes_count == 0) axes = std::vector<int64_t>{};  // an empty axes input of unknown value

  const MaybeShape& in = ctx.input_shape(0);
  if (axes_count && *axes_count == 0 && noop) return same_as_input(ctx);
  if (!in) {
    ctx.set_output(0, dt, std::nullopt);
    return ok_status();
  }
  const int64_t rank = static_cast<int64_t>(in->size());
  if (!axes) {
    // Which dims go is not known: with keepdims the rank stays and dims of 1 stay 1.
    if (keepdims) {
      SymShape out;
      for (const Dim& d : *in) out.push_back(d.is_known() && d.value == 1 ? d : Dim::unknown());
      ctx.set_output(0, dt, out);
    } else if (axes_count) {
      const int64_t out_rank = *axes_count == 0 ? 0 : rank - *axes_count;
      if (out_rank < 0) {
        return ctx.error(fmt::format("input 1 'axes' has {} values, more than rank {}", *axes_count, rank));
      }
      ctx.set_output(0, dt, SymShape(static_cast<size_t>(out_rank), Dim::unknown()));
    } else {
      ctx.set_output(0, dt, std::nullopt);
    }
    return ok_status();
  }
  std::vector<int64_t> norm;
  if (axes->empty()) {
    for (int64_t i = 0; i < rank; ++i) norm.push_back(i);
  } else {
    auto r = normalize_reduce_axes(*axes, rank);
    if (!r.ok()) return ctx.error(r.status().message());
    norm = std::move(r).value();
  }
  SymShape out;
  for (int64_t i = 0; i < rank; ++i) {
    const bool reduced = std::find(norm.begin(), norm.end(), i) != norm.end();
    if (!reduced) {
      out.push_back((*in)[static_cast<size_t>(i)]);
    } else if (keepdims) {
      out.push_back(Dim::known(1));
    }
  }
  ctx.set_output(0, dt, out);
  return ok_status();
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  for (const ReduceOpInfo& info : kReduceOps) {
    OpSchema s;
    s.op_type = info.op_type;
    s.min_inputs = 1;
    s.max_inputs = 2;  // data, axes (an input from opset 13/18)
    s.infer = [info](InferenceContext& ctx) { return infer_reduce(ctx, info); };
    r.add(std::move(s));
  }
}

}  // namespace kiln
