#include "ir/ops/families.h"
#include "ir/ops/reduction/reduction_ops.h"

namespace kiln {

void register_reduction_ops(OpRegistry& r) {
  register_reduce_ops(r);
  register_arg_max(r);
  register_arg_min(r);
  register_cum_sum(r);
  register_softmax(r);
  register_log_softmax(r);
  register_hardmax(r);
  register_top_k(r);
  register_negative_log_likelihood_loss(r);
  register_softmax_cross_entropy_loss(r);
}

}  // namespace kiln
