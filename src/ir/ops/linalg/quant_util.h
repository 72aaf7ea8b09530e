// How a (de)quantization scale and zero point map onto the data's elements: per tensor, per axis
// (opset 13) or blocked along an axis (opset 21). Shared by the schemas and the kernels.
#pragma once

#include <cstdint>

#include "kiln/status.h"
#include "kiln/tensor.h"

namespace kiln {

struct QuantLayout {
  enum class Kind { kTensor, kAxis, kBlocked };
  Kind kind = Kind::kTensor;
  int64_t axis = 0;                       // normalized; for kAxis and kBlocked
  int64_t block = 0;                      // for kBlocked
  int64_t outer = 1, dim = 1, inner = 1;  // x viewed as [outer, dim, inner] around the axis

  // The scale/zero-point element that applies to x's element at linear index i.
  int64_t param_index(int64_t i) const {
    switch (kind) {
      case Kind::kTensor:
        return 0;
      case Kind::kAxis:
        return (i / inner) % dim;
      case Kind::kBlocked: {
        const int64_t in = i % inner;
        const int64_t a = (i / inner) % dim;
        const int64_t o = i / (inner * dim);
        const int64_t nb = (dim + block - 1) / block;
        return (o * nb + a / block) * inner + in;
      }
    }
    return 0;
  }
};

// Validates the scale's shape against x's (plain messages naming `scale_name`).
Result<QuantLayout> quant_layout(const Dims& x, const Dims& scale, int64_t axis, int64_t block_size,
                                 const char* scale_name);

}  // namespace kiln
