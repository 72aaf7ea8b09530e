#include "backends/reference/kernels/families.h"
#include "backends/reference/kernels/tensor/tensor_kernels.h"

namespace kiln {

void register_tensor_kernels(KernelTable& t) {
  t.add("Reshape", ref_reshape);
  t.add("Transpose", ref_transpose);
  t.add("Concat", ref_concat);
  t.add("Split", ref_split);
  t.add("Slice", ref_slice);
  t.add("Squeeze", ref_squeeze);
  t.add("Unsqueeze", ref_unsqueeze);
  t.add("Flatten", ref_flatten);
  t.add("Expand", ref_expand);
  t.add("Tile", ref_tile);
  t.add("Pad", ref_pad);
  t.add("Shape", ref_shape);
  t.add("Size", ref_size);
  t.add("Constant", ref_constant);
  t.add("ConstantOfShape", ref_constant_of_shape);
  t.add("Range", ref_range);
  t.add("EyeLike", ref_eye_like);
  t.add("Trilu", ref_trilu);
  t.add("DepthToSpace", ref_depth_to_space);
  t.add("SpaceToDepth", ref_space_to_depth);
  t.add("OneHot", ref_one_hot);
  t.add("CenterCropPad", ref_center_crop_pad);
  t.add("ReverseSequence", ref_reverse_sequence);
}

}  // namespace kiln
