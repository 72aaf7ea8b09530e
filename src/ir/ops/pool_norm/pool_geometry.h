// Window geometry shared by the pooling ops (MaxPool, AveragePool, LpPool) and by their kernels,
// so that inference and the kernels always agree on output sizes and padding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "kiln/status.h"

namespace kiln {

struct PoolGeometry {
  // One entry per spatial axis.
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end;
  std::vector<int64_t> out;  // -1 where the input size is unknown
};

// Reads kernel_shape/strides/dilations/pads/auto_pad/ceil_mode and computes the output spatial
// sizes for `in_spatial` (-1 for unknown sizes). Errors are plain messages (callers add the node).
Result<PoolGeometry> pool_geometry(const Attributes& attrs, const std::vector<int64_t>& in_spatial);

// Lp pooling/normalization exponent `p`: an int from opset 2 on, a float at opset 1.
double attr_p(const Attributes& attrs, double def);

}  // namespace kiln
