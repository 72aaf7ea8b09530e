// Schemas of the indexing family: gathers, scatters, data-dependent selections (NonZero,
// Compress, Unique), resampling (Resize, Upsample, GridSample, AffineGrid, RoiAlign, Col2Im)
// and NonMaxSuppression.
#pragma once

#include "ir/op_schema.h"

namespace kiln {

void register_gather(OpRegistry& r);
void register_gather_elements(OpRegistry& r);
void register_gather_nd(OpRegistry& r);
void register_scatter_elements(OpRegistry& r);  // ScatterElements and its old name Scatter
void register_scatter_nd(OpRegistry& r);
void register_non_zero(OpRegistry& r);
void register_compress(OpRegistry& r);
void register_unique(OpRegistry& r);
void register_resize(OpRegistry& r);  // Resize and Upsample
void register_grid_sample(OpRegistry& r);
void register_affine_grid(OpRegistry& r);
void register_roi_align(OpRegistry& r);
void register_non_max_suppression(OpRegistry& r);
void register_col2im(OpRegistry& r);

}  // namespace kiln
