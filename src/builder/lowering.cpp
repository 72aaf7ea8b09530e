#include "builder/lowering.h"

#include "fmt/format.h"
#include "ir/op_schema.h"

namespace kiln {

Result<Node*> insert_lowered_node(Graph& g, const Backend& backend, Node* before, const std::string& domain, const std::string& op_type,
                                  int opset, std::vector<Value*> inputs, std::vector<Value*> outputs, const std::string& name,
                                  const Attributes& attrs) {
  Node* n = g.insert_node_before(before, op_type, std::move(inputs), std::move(outputs), name);
  n->domain = domain;
  n->opset = opset;
  n->attrs = attrs;
  n->schema = OpRegistry::global().find(domain, op_type, opset);
  const KernelEntry* k = backend.kernels().find(*n);
  if (!n->schema || !k) return internal_error(fmt::format("{}: backend '{}' has no kernel for it", n->describe(), backend.name()));
  n->backend = k->backend.empty() ? backend.name() : k->backend;
  n->kernel = k->name;
  return n;
}

}  // namespace kiln
