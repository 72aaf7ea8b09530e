// `kiln inspect --graph FILE`: the engine's optimized graph as Graphviz DOT, drawn by `dot`.
// One box per layer (op, what was fused in, output shapes, how many weights it reads), graph
// inputs and outputs as ellipses, edges labelled with the dtype and shape that flows along them.
// Weights are not drawn: a ResNet would otherwise show more constant boxes than layers.
#pragma once

#include <string>

#include "kiln/kiln.h"

namespace kiln::cli {

// The DOT text. Layer i is node "L<i>", graph input k "in<k>", graph output k "out<k>".
std::string engine_graph_dot(const EngineInfo& info);

// An error naming `path` unless it ends in .dot, .svg or .png (checked before any work is done).
Status check_graph_path(const std::string& path);

// Writes the graph to `path`: .dot as the DOT text itself, .svg and .png through Graphviz's
// `dot`. Writes a temporary file beside `path` and renames it on success, so a failure (no
// `dot`, an unwritable directory, dot rejecting the input) leaves nothing behind.
Status write_engine_graph(const EngineInfo& info, const std::string& path);

}  // namespace kiln::cli
