#include "backends/reference/kernels/binary/binary_kernels.h"
#include "backends/reference/kernels/families.h"

namespace kiln {

void register_binary_kernels(KernelTable& t) {
  t.add("Add", ref_add);
  t.add("Sub", ref_sub);
  t.add("Mul", ref_mul);
  t.add("Div", ref_div);
  t.add("Pow", ref_pow);
  t.add("Mod", ref_mod);
  t.add("BitShift", ref_bitshift);
  t.add("And", ref_and);
  t.add("Or", ref_or);
  t.add("Xor", ref_xor);
  t.add("BitwiseAnd", ref_bitwise_and);
  t.add("BitwiseOr", ref_bitwise_or);
  t.add("BitwiseXor", ref_bitwise_xor);
  t.add("Equal", ref_equal);
  t.add("Greater", ref_greater);
  t.add("GreaterOrEqual", ref_greater_or_equal);
  t.add("Less", ref_less);
  t.add("LessOrEqual", ref_less_or_equal);
  t.add("Max", ref_max);
  t.add("Min", ref_min);
  t.add("Sum", ref_sum);
  t.add("Mean", ref_mean);
  t.add("Where", ref_where);
}

}  // namespace kiln
