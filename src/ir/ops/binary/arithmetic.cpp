// Add, Sub, Mul, Div: one table-driven schema, since the four differ only in name (same dtypes,
// same broadcasting, output of the inputs' dtype).
#include "ir/ops/binary/binary_infer.h"
#include "ir/ops/binary/binary_ops.h"

namespace kiln {

void register_add(OpRegistry& r) { r.add(make_broadcast_schema("Add", 2, 2, DtypeSet::kNumeric)); }
void register_sub(OpRegistry& r) { r.add(make_broadcast_schema("Sub", 2, 2, DtypeSet::kNumeric)); }
void register_mul(OpRegistry& r) { r.add(make_broadcast_schema("Mul", 2, 2, DtypeSet::kNumeric)); }
void register_div(OpRegistry& r) { r.add(make_broadcast_schema("Div", 2, 2, DtypeSet::kNumeric)); }

}  // namespace kiln
