// TensorProto ↔ Tensor, with every size checked against the declared shape and dtype.
#pragma once

#include <string>

#include "kiln/tensor.h"
#include "onnx/onnx-ml.pb.h"

namespace kiln {

// `base_dir` resolves external data (empty: external data is refused); `what` names the tensor
// in messages ("initializer 'conv1.weight'").
Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir,
                                 const std::string& what);

}  // namespace kiln
