#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/reduction/reduction_kernels.h"

namespace kiln {

void register_reduction_kernels(KernelTable& t) {
  t.add("ReduceSum", ref_reduce_sum);
  t.add("ReduceMean", ref_reduce_mean);
  t.add("ReduceMax", ref_reduce_max);
  t.add("ReduceMin", ref_reduce_min);
  t.add("ReduceProd", ref_reduce_prod);
  t.add("ReduceL1", ref_reduce_l1);
  t.add("ReduceL2", ref_reduce_l2);
  t.add("ReduceLogSum", ref_reduce_log_sum);
  t.add("ReduceLogSumExp", ref_reduce_log_sum_exp);
  t.add("ReduceSumSquare", ref_reduce_sum_square);
  t.add("ArgMax", ref_arg_max);
  t.add("ArgMin", ref_arg_min);
  t.add("CumSum", ref_cum_sum);
  t.add("Softmax", ref_softmax);
  t.add("LogSoftmax", ref_log_softmax);
  t.add("Hardmax", ref_hardmax);
  t.add("TopK", ref_top_k);
  t.add("NegativeLogLikelihoodLoss", ref_negative_log_likelihood_loss);
  t.add("SoftmaxCrossEntropyLoss", ref_softmax_cross_entropy_loss);
}

}  // namespace kiln
