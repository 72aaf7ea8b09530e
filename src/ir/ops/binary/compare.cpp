// Equal, Greater, GreaterOrEqual, Less, LessOrEqual: two inputs of one dtype, bool out;
// table-driven since only the name (and Equal's acceptance of bool) differs.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_equal(OpRegistry& r) {
  r.add(make_broadcast_schema("Equal", 2, 2, DtypeSet::kNumericOrBool, DataType::kBool));
}
void register_greater(OpRegistry& r) {
  r.add(make_broadcast_schema("Greater", 2, 2, DtypeSet::kNumeric, DataType::kBool));
}
void register_greater_or_equal(OpRegistry& r) {
  r.add(make_broadcast_schema("GreaterOrEqual", 2, 2, DtypeSet::kNumeric, DataType::kBool));
}
void register_less(OpRegistry& r) {
  r.add(make_broadcast_schema("Less", 2, 2, DtypeSet::kNumeric, DataType::kBool));
}
void register_less_or_equal(OpRegistry& r) {
  r.add(make_broadcast_schema("LessOrEqual", 2, 2, DtypeSet::kNumeric, DataType::kBool));
}

}  // namespace kiln
