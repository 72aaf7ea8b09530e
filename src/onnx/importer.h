// ONNX → IR. Reads a ModelProto (from a file or bytes) into a kiln Graph: initializers become
// constant Values, subgraphs become child Graphs, every node is matched to an OpSchema for its
// opset. Anything kiln cannot take is an error naming the op type, node and opset (or, for a
// damaged file, the byte offset) — never a crash.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

// Highest versions this build of kiln understands (those of the pinned onnx package).
constexpr int kMaxOnnxIrVersion = 10;
constexpr int kMaxOnnxOpset = 22;

struct ImportedModel {
  std::unique_ptr<Graph> graph;
  int64_t ir_version = 0;
  std::string producer;
  size_t onnx_nodes = 0;  // nodes in the main graph as the file has them
};

Result<ImportedModel> import_onnx_file(const std::string& path);
// `base_dir` resolves external-data files; `name` is used in messages.
Result<ImportedModel> import_onnx_bytes(const std::string& bytes, const std::string& name,
                                        const std::string& base_dir);

// A serialized TensorProto (the .pb files of ONNX test data) as a Tensor.
Result<Tensor> tensor_from_proto_bytes(const std::string& bytes, const std::string& what);

// Reads a whole file.
Result<std::string> read_file(const std::string& path);

}  // namespace kiln
