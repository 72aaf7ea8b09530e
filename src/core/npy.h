// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order) for `kiln run` inputs and outputs.
#pragma once

#include <string>

#include "kiln/tensor.h"

namespace kiln {
Result<Tensor> read_npy(const std::string& path);
Status write_npy(const std::string& path, const Tensor& t);
}  // namespace kiln
