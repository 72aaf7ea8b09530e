// The reference backend: plain, obviously correct C++ for every op kiln knows. Never optimized;
// it is the oracle every other backend is tested against.
#pragma once

#include "backends/backend.h"

namespace kiln {

const Backend& reference_backend();

// The kernel table (kernel_table.cpp): one call per op family, one line per op inside each.
void register_reference_kernels(KernelTable& t);

}  // namespace kiln
