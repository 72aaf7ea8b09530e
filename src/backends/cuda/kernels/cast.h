// Cast between the numeric types the device holds: float32, float16, bfloat16, int64, int32,
// int8, uint8 and bool, with the reference's semantics (src/backends/reference/kernels/elementwise/
// cast.cpp) element for element:
//   float -> integer: truncated toward zero, computed in double from the value as fp32; NaN gives
//     0, values beyond the int64 range the target's limits, the rest wrap to the target's width
//     (as the int64 value cast to it);
//   integer -> float32: rounded to nearest-even once; integer -> float16 / bfloat16: through
//     double and an fp32 rounded to odd, so the 16-bit result is rounded once, as the reference's;
//   integer -> integer: wraps (two's complement truncation, sign extension);
//   anything -> bool: non-zero is true (NaN too); bool -> anything: 1 or 0.
// Float <-> float pairs go to pointwise.h's `cast`. One element per thread of a grid-stride loop.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kiln/dtype.h"

namespace kiln::cuda {

// The element types cast_numeric takes (on either side).
bool is_cast_type(DataType t);

// y = Cast(x) for n elements, from -> to (both is_cast_type). y may not overlap x unless the
// types are equal and y == x.
cudaError_t cast_numeric(const void* x, DataType from, void* y, DataType to, int64_t n,
                         cudaStream_t stream);

}  // namespace kiln::cuda
