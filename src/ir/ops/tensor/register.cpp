#include "ir/ops/families.h"
#include "ir/ops/tensor/tensor_ops.h"

namespace kiln {

void register_tensor_ops(OpRegistry& r) {
  register_reshape(r);
  register_transpose(r);
  register_concat(r);
  register_split(r);
  register_slice(r);
  register_squeeze(r);
  register_unsqueeze(r);
  register_flatten(r);
  register_expand(r);
  register_tile(r);
  register_pad(r);
  register_shape(r);
  register_size(r);
  register_constant(r);
  register_constant_of_shape(r);
  register_range(r);
  register_eye_like(r);
  register_trilu(r);
  register_depth_to_space(r);
  register_space_to_depth(r);
  register_one_hot(r);
  register_center_crop_pad(r);
  register_reverse_sequence(r);
}

}  // namespace kiln
