#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/indexing/indexing_kernels.h"

namespace kiln {

void register_indexing_kernels(KernelTable& t) {
  t.add("Gather", ref_gather);
  t.add("GatherElements", ref_gather_elements);
  t.add("GatherND", ref_gather_nd);
  t.add("ScatterElements", ref_scatter_elements);
  t.add("Scatter", ref_scatter_elements);
  t.add("ScatterND", ref_scatter_nd);
  t.add("NonZero", ref_non_zero);
  t.add("Compress", ref_compress);
  t.add("Unique", ref_unique);
  t.add("Resize", ref_resize);
  t.add("Upsample", ref_resize);
  t.add("GridSample", ref_grid_sample);
  t.add("AffineGrid", ref_affine_grid);
  t.add("RoiAlign", ref_roi_align);
  t.add("NonMaxSuppression", ref_non_max_suppression);
  t.add("Col2Im", ref_col2im);
}

}  // namespace kiln
