// Inference shared by RNN, GRU and LSTM: the three differ only in their gate count, their default
// activation count and LSTM's extra inputs (initial_c, P) and output (Y_c).
#pragma once

#include <cstdint>

#include "ir/op_schema.h"

namespace kiln {

// gates: 1 (RNN), 3 (GRU), 4 (LSTM); activations: functions per direction (1, 2, 3).
Status infer_recurrent(InferenceContext& ctx, int64_t gates, size_t activations);

}  // namespace kiln
