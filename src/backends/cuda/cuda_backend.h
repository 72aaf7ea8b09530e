// The cuda backend: kiln's CUDA kernels (kernels/), cuBLASLt and cuDNN behind the backend
// interface, computing in GPU memory (cuda_device.h). Ops without a CUDA kernel fall back to the
// reference kernels in host memory, with the copies the builder inserts (kiln inspect shows
// both). Compiled in when KILN_CUDA is on; available() says why not where there is no GPU.
#pragma once

#include "backends/backend.h"

namespace kiln {

const Backend& cuda_backend();

}  // namespace kiln
