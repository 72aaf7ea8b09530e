// --fp16 / --bf16 on a device backend: the layers that run on the device compute on 16-bit
// tensors (what TensorRT's fp16 mode does), not just inside their products as the cpu backend's
// bf16 does. Halving the bytes every layer reads and writes is most of the gain on a GPU.
#pragma once

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln {

// After kernels are chosen, before weights are packed and copies inserted. For each device layer
// whose kernel also takes its float32 tensors in `low` (float16 or bfloat16) and that is not kept in
// float32 for accuracy (ops whose results leave fp16's range: Exp, Pow, sums over many elements),
// every float32 input and output becomes `low`:
// - float32 constants it reads get a converted copy (the original goes when nothing else reads it);
// - a value from elsewhere (a graph input, a host layer, a float32 layer) passes through a Cast on
//   the device first; a 16-bit result read by a float32 layer or the graph's caller passes
//   through a Cast back. Graph inputs and outputs keep their float32 types.
// Those layers get Node::precision = "fp16"/"bf16", so `kiln inspect` lists them. Statistics and
// accumulations stay float32 inside the kernels (LayerNorm, Softmax, attention, products).
// Does nothing unless the backend has a device and precision is "fp16" or "bf16".
Status apply_device_precision(Graph& g, const Backend& backend, const std::string& precision);

}  // namespace kiln
