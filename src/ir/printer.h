// The text form of a graph, one node per line:
//   graph main (x: float32[batch,3,224,224]) -> (y: float32[batch,1000])
//     %conv1 = Conv(%x, %w1[const float32[64,3,7,7]]) {strides=[2,2], pads=[3,3,3,3]}  # from conv1
// Readable in pass tests and diffs.
#pragma once

#include <string>

#include "ir/graph.h"

namespace kiln {
std::string print_graph(const Graph& g, int indent = 0);
}  // namespace kiln
