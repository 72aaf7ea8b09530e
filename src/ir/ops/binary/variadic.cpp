// Max, Min, Sum, Mean: 1..N inputs of one dtype broadcast together (before opset 8 they had to
// match exactly, which broadcasting accepts too); table-driven since only name and dtypes differ.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_max(OpRegistry& r) {
  r.add(make_broadcast_schema("Max", 1, OpSchema::kUnbounded, DtypeSet::kNumeric));
}
void register_min(OpRegistry& r) {
  r.add(make_broadcast_schema("Min", 1, OpSchema::kUnbounded, DtypeSet::kNumeric));
}
void register_sum(OpRegistry& r) {
  r.add(make_broadcast_schema("Sum", 1, OpSchema::kUnbounded, DtypeSet::kFloat));
}
void register_mean(OpRegistry& r) {
  r.add(make_broadcast_schema("Mean", 1, OpSchema::kUnbounded, DtypeSet::kFloat));
}

}  // namespace kiln
