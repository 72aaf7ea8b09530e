// What an Engine holds: the optimized graph, one kernel per node, and the metadata that the
// engine file's header records. Immutable once built; shared by every ExecutionContext.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backends/device.h"
#include "backends/kernel.h"
#include "ir/graph.h"
#include "kiln/kiln.h"

namespace kiln {

struct EngineMeta {
  std::string producer;  // "kiln 0.1.0"
  std::string backend;
  std::string device;
  std::string source_name;
  std::string source_sha256;
  std::map<std::string, std::string> build_options;
  size_t onnx_nodes = 0;
  std::vector<std::vector<InputRange>> profiles;  // a run's shapes must fit one (none: any)
};

struct EngineState {
  std::shared_ptr<Graph> graph;
  std::shared_ptr<const void> storage;  // keeps mapped weights alive
  EngineMeta meta;
  std::vector<IoInfo> inputs, outputs;
  std::unordered_map<const Node*, std::unique_ptr<Kernel>> kernels;  // every node, subgraphs too
  std::unordered_map<const Value*, size_t> value_index;              // main graph values

  // Device backends (backends/device.h): the device the engine's own kernels compute on, the
  // top-level nodes that run there, the inputs they read and outputs they write in host memory all
  // the same, and device
  // copies of the constants they read in device memory (made with the engine, freed with it).
  const Device* device = nullptr;
  std::unordered_set<const Node*> on_device;
  std::unordered_map<const Node*, std::vector<size_t>> host_inputs;
  std::unordered_map<const Node*, std::vector<size_t>> host_outputs;  // kiln.CopyToHost's
  std::unordered_map<const Value*, Tensor> device_constants;
};

// Creates kernels for every node (from the backend each node was lowered to) and the I/O table.
Result<std::shared_ptr<EngineState>> make_engine_state(std::shared_ptr<Graph> graph, EngineMeta meta,
                                                       std::shared_ptr<const void> storage);

// Arena bytes one run needs at these input shapes (planning only; nothing is run).
Result<int64_t> planned_arena_bytes(const std::shared_ptr<const EngineState>& engine,
                                    const std::map<std::string, Dims>& shapes);

// Runs one node on the reference backend with heap-allocated outputs (constant folding and
// shape arithmetic ahead of a run). Returns nullopt when the op is not foldable.
Result<std::optional<std::vector<Tensor>>> evaluate_node(const Node& n, const std::vector<const Tensor*>& inputs);

}  // namespace kiln
