// And, Or, Xor: bool in, bool out; table-driven since only the name differs.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_and(OpRegistry& r) {
  r.add(make_broadcast_schema("And", 2, 2, DtypeSet::kBool, DataType::kBool));
}
void register_or(OpRegistry& r) {
  r.add(make_broadcast_schema("Or", 2, 2, DtypeSet::kBool, DataType::kBool));
}
void register_xor(OpRegistry& r) {
  r.add(make_broadcast_schema("Xor", 2, 2, DtypeSet::kBool, DataType::kBool));
}

}  // namespace kiln
