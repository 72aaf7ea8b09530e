#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/pool_norm/pool_norm_kernels.h"

namespace kiln {

void register_pool_norm_kernels(KernelTable& t) {
  t.add("MaxPool", ref_max_pool);
  t.add("AveragePool", ref_average_pool);
  t.add("LpPool", ref_lp_pool);
  t.add("GlobalAveragePool", ref_global_average_pool);
  t.add("GlobalMaxPool", ref_global_max_pool);
  t.add("GlobalLpPool", ref_global_lp_pool);
  t.add("MaxUnpool", ref_max_unpool);
  t.add("BatchNormalization", ref_batch_normalization);
  t.add("InstanceNormalization", ref_instance_normalization);
  t.add("LayerNormalization", ref_layer_normalization);
  t.add("GroupNormalization", ref_group_normalization);
  t.add("LpNormalization", ref_lp_normalization);
  t.add("MeanVarianceNormalization", ref_mean_variance_normalization);
  t.add("LRN", ref_lrn);
  t.add("Dropout", ref_dropout);
}

}  // namespace kiln
