// BitwiseAnd, BitwiseOr, BitwiseXor: integers in, same dtype out; table-driven since only the name
// differs.
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_bitwise_and(OpRegistry& r) {
  r.add(make_broadcast_schema("BitwiseAnd", 2, 2, DtypeSet::kInt));
}
void register_bitwise_or(OpRegistry& r) {
  r.add(make_broadcast_schema("BitwiseOr", 2, 2, DtypeSet::kInt));
}
void register_bitwise_xor(OpRegistry& r) {
  r.add(make_broadcast_schema("BitwiseXor", 2, 2, DtypeSet::kInt));
}

}  // namespace kiln
