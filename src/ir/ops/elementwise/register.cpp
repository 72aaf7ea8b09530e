#include "ir/ops/elementwise/elementwise_ops.h"
#include "ir/ops/families.h"

namespace kiln {

void register_elementwise_ops(OpRegistry& r) {
  register_relu(r);
  register_unary_math_ops(r);  // Abs ... BitwiseNot: one table
  register_activation_ops(r);  // LeakyRelu ... Tanh: one table
  register_prelu(r);
  register_clip(r);
  register_identity(r);
  register_cast(r);
  register_cast_like(r);
}

}  // namespace kiln
