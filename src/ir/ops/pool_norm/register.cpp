#include "ir/ops/families.h"
#include "ir/ops/pool_norm/pool_norm_ops.h"

namespace kiln {

void register_pool_norm_ops(OpRegistry& r) {
  register_max_pool(r);
  register_average_pool(r);
  register_lp_pool(r);
  register_global_pools(r);
  register_max_unpool(r);
  register_batch_normalization(r);
  register_instance_normalization(r);
  register_layer_normalization(r);
  register_group_normalization(r);
  register_lp_normalization(r);
  register_mean_variance_normalization(r);
  register_lrn(r);
  register_dropout(r);
}

}  // namespace kiln
