// The cpu backend: oneDNN kernels (f32 Conv/FusedConv, MatMul/Gemm/FusedMatMul) first, then every
// reference kernel as the fallback, so every model the reference backend runs also runs here. A
// node lowered to a fallback keeps backend "reference" (kiln inspect shows it).
#pragma once

#include "backends/backend.h"

namespace kiln {

const Backend& cpu_backend();

}  // namespace kiln
