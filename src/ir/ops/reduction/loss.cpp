// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. One file for both: SCE is NLL applied
// to LogSoftmax(scores, axis=1), so their inputs, attributes and loss output are the same; SCE
// adds an optional second output, the log-probabilities (shape of the scores).
//   input/scores [N, C, d1..dk] float, target/labels [N, d1..dk] int32/int64, weight [C].
//   reduction "none" gives [N, d1..dk]; "sum" and "mean" give a scalar.
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {
namespace {

Status infer_loss(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (dt != DataType::kUndefined && !dtype_is_float(dt)) {
    return ctx.unsupported_error(fmt::format("input 0 has dtype {} (expected a float type)", dtype_name(dt)));
  }
  const DataType tt = ctx.input_dtype(1);
  if (tt != DataType::kUndefined && tt != DataType::kInt32 && tt != DataType::kInt64) {
    return ctx.error(fmt::format("input 1 (target) must be int32 or int64, got {}", dtype_name(tt)));
  }
  if (ctx.has_input(2)) {
    const DataType wt = ctx.input_dtype(2);
    if (wt != DataType::kUndefined && dt != DataType::kUndefined && wt != dt) {
      return ctx.error(fmt::format("input 2 (weight) has dtype {}, expected {}", dtype_name(wt), dtype_name(dt)));
    }
  }
  const std::string reduction = ctx.attrs().get_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    return ctx.error(fmt::format("reduction '{}' is not one of none, sum, mean", reduction));
  }
  const MaybeShape& in = ctx.input_shape(0);
  const MaybeShape& target = ctx.input_shape(1);
  if (in && in->size() < 2) return ctx.error(fmt::format("input 0 has rank {}, expected >= 2", in->size()));
  if (in && target) {
    if (target->size() + 1 != in->size()) {
      return ctx.error(fmt::format("target shape {} does not match input shape {} (expected [N, d1..dk])",
                                   shape_to_string(target), shape_to_string(in)));
    }
    for (size_t i = 0; i < target->size(); ++i) {
      const Dim& a = (*target)[i];
      const Dim& b = (*in)[i == 0 ? 0 : i + 1];
      if (a.is_known() && b.is_known() && a.value != b.value) {
        return ctx.error(fmt::format("target shape {} does not match input shape {}", shape_to_string(target),
                                     shape_to_string(in)));
      }
    }
  }
  if (ctx.has_input(2) && in) {
    const MaybeShape& w = ctx.input_shape(2);
    if (w && (w->size() != 1 || ((*w)[0].is_known() && (*in)[1].is_known() && (*w)[0].value != (*in)[1].value))) {
      return ctx.error(fmt::format("weight shape {} does not match the {} classes of input 0", shape_to_string(w),
                                   (*in)[1].str()));
    }
  }
  if (reduction != "none") {
    ctx.set_output(0, dt, SymShape{});
  } else if (target) {
    // Prefer the input's dims where the target's are unknown.
    SymShape out = *target;
    for (size_t i = 0; in && i < out.size(); ++i) {
      if (!out[i].is_known()) out[i] = (*in)[i == 0 ? 0 : i + 1];
    }
    ctx.set_output(0, dt, out);
  } else if (in) {
    SymShape out = *in;
    out.erase(out.begin() + 1);
    ctx.set_output(0, dt, out);
  } else {
    ctx.set_output(0, dt, std::nullopt);
  }
  if (ctx.num_outputs() > 1) ctx.set_output(1, dt, in);
  return ok_status();
}

void register_loss(OpRegistry& r, const char* op_type, size_t max_outputs) {
  OpSchema s;
  s.op_type = op_type;
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.max_outputs = max_outputs;
  s.infer = infer_loss;
  r.add(std::move(s));
}

}  // namespace

void register_negative_log_likelihood_loss(OpRegistry& r) { register_loss(r, "NegativeLogLikelihoodLoss", 1); }
void register_softmax_cross_entropy_loss(OpRegistry& r) { register_loss(r, "SoftmaxCrossEntropyLoss", 2); }

}  // namespace kiln
