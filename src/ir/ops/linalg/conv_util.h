// Convolution geometry shared by the conv schemas (shape inference) and the reference kernels,
// so that inference and kernels always agree on output sizes and padding.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/attribute.h"
#include "kiln/status.h"

namespace kiln {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct ConvParams {
  AutoPad auto_pad = AutoPad::kNotSet;
  int64_t group = 1;
  std::vector<int64_t> kernel;     // spatial kernel dims; -1 where W's dim is unknown
  std::vector<int64_t> strides;    // one per spatial dim
  std::vector<int64_t> dilations;  // one per spatial dim
  std::vector<int64_t> pads;       // begins then ends (explicit pads; zeros when absent)
  // ConvTranspose only.
  std::vector<int64_t> output_padding;  // one per spatial dim
  std::vector<int64_t> output_shape;    // spatial output dims; empty when absent
};

// Reads and validates the conv attributes for `nspatial` spatial dims. `w_kernel` holds W's
// spatial dims (-1 when unknown); a kernel_shape attribute must agree with them. Errors are plain
// messages (callers prefix the node).
Result<ConvParams> read_conv_params(const Attributes& attrs, size_t nspatial,
                                    const std::vector<int64_t>& w_kernel, bool transpose);

struct ConvDim {
  int64_t out = 0;        // output size
  int64_t pad_begin = 0;  // padding before the first input element (may be < 0 for ConvTranspose)
};

// Output size and leading pad of spatial dim i for an input of size `in` (known).
Result<ConvDim> conv_output_dim(const ConvParams& p, size_t i, int64_t in);
Result<ConvDim> conv_transpose_output_dim(const ConvParams& p, size_t i, int64_t in);

}  // namespace kiln
