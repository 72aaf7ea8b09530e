#include "backends/reference/kernels/elementwise/elementwise_kernels.h"
#include "backends/reference/kernels/families.h"

namespace kiln {

void register_elementwise_kernels(KernelTable& t) {
  t.add("Relu", ref_relu);

  t.add("Abs", ref_abs);
  t.add("Neg", ref_neg);
  t.add("Reciprocal", ref_reciprocal);
  t.add("Sqrt", ref_sqrt);
  t.add("Exp", ref_exp);
  t.add("Log", ref_log);
  t.add("Ceil", ref_ceil);
  t.add("Floor", ref_floor);
  t.add("Round", ref_round);
  t.add("Sign", ref_sign);
  t.add("Erf", ref_erf);
  t.add("Sin", ref_sin);
  t.add("Cos", ref_cos);
  t.add("Tan", ref_tan);
  t.add("Asin", ref_asin);
  t.add("Acos", ref_acos);
  t.add("Atan", ref_atan);
  t.add("Sinh", ref_sinh);
  t.add("Cosh", ref_cosh);
  t.add("Asinh", ref_asinh);
  t.add("Acosh", ref_acosh);
  t.add("Atanh", ref_atanh);
  t.add("IsNaN", ref_isnan);
  t.add("IsInf", ref_isinf);
  t.add("Not", ref_not);
  t.add("BitwiseNot", ref_bitwise_not);

  t.add("LeakyRelu", ref_leaky_relu);
  t.add("Elu", ref_elu);
  t.add("Selu", ref_selu);
  t.add("Celu", ref_celu);
  t.add("Sigmoid", ref_sigmoid);
  t.add("HardSigmoid", ref_hard_sigmoid);
  t.add("HardSwish", ref_hard_swish);
  t.add("Softplus", ref_softplus);
  t.add("Softsign", ref_softsign);
  t.add("Mish", ref_mish);
  t.add("Gelu", ref_gelu);
  t.add("ThresholdedRelu", ref_thresholded_relu);
  t.add("Shrink", ref_shrink);
  t.add("Tanh", ref_tanh);

  t.add("PRelu", ref_prelu);
  t.add("Clip", ref_clip);
  t.add("Identity", ref_identity);
  t.add("Cast", ref_cast);
  t.add("CastLike", ref_cast_like);
}

}  // namespace kiln
