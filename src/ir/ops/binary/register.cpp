#include "ir/ops/binary/binary_ops.h"
#include "ir/ops/families.h"

namespace kiln {

void register_binary_ops(OpRegistry& r) {
  register_add(r);
  register_sub(r);
  register_mul(r);
  register_div(r);
  register_pow(r);
  register_mod(r);
  register_bitshift(r);
  register_and(r);
  register_or(r);
  register_xor(r);
  register_bitwise_and(r);
  register_bitwise_or(r);
  register_bitwise_xor(r);
  register_equal(r);
  register_greater(r);
  register_greater_or_equal(r);
  register_less(r);
  register_less_or_equal(r);
  register_max(r);
  register_min(r);
  register_sum(r);
  register_mean(r);
  register_where(r);
}

}  // namespace kiln
