#include "ir/ops/families.h"
#include "ir/ops/indexing/indexing_ops.h"

namespace kiln {

void register_indexing_ops(OpRegistry& r) {
  register_gather(r);
  register_gather_elements(r);
  register_gather_nd(r);
  register_scatter_elements(r);
  register_scatter_nd(r);
  register_non_zero(r);
  register_compress(r);
  register_unique(r);
  register_resize(r);
  register_grid_sample(r);
  register_affine_grid(r);
  register_roi_align(r);
  register_non_max_suppression(r);
  register_col2im(r);
}

}  // namespace kiln
