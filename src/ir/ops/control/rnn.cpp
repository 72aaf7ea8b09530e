// RNN: a recurrent layer (see recurrent_infer.cpp for the shared shape rules). Opset 14 added
// 'layout'; its default (0) is the earlier behaviour, so one schema covers opsets 7 to 22.
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/recurrent_infer.h"

namespace kiln {

void register_rnn(OpRegistry& r) {
  OpSchema s;
  s.op_type = "RNN";
  s.min_inputs = 3;
  s.max_inputs = 6;
  s.min_outputs = 0;
  s.max_outputs = 2;
  s.infer = [](InferenceContext& ctx) { return infer_recurrent(ctx, 1, 1); };
  r.add(std::move(s));
}

}  // namespace kiln
