// Where a device backend (one with a Device: its kernels compute in GPU memory) meets host
// memory, the builder inserts explicit copy layers, so the runtime's only job is to run them and
// `kiln inspect` shows every copy an engine makes.
#pragma once

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln {

// After lowering: a kiln.CopyToDevice before each device node's input that comes from host memory
// (a graph input, a host fallback's output), a kiln.CopyToHost before each host input that a
// device node produced and for each graph output computed on the device. Constants need none (the
// runtime keeps a device copy of those device kernels read). The copies are lowered to `backend`.
// Does nothing for a backend without a device.
Status insert_device_copies(Graph& g, const Backend& backend);

}  // namespace kiln
