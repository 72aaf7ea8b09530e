// Removes nodes none of whose outputs reach a graph output (or an enclosing graph via a subgraph
// reference). Runs backwards so chains of dead nodes go in one sweep.
#include "passes/pass.h"

namespace kiln {

namespace {
class EliminateDeadCode final : public Pass {
 public:
  std::string name() const override { return "eliminate-dead-code"; }
  int level() const override { return 1; }
  Result<bool> run(Graph& g) override {
    bool changed = false;
    const std::set<std::string> outer_reads = g.names_read_by_subgraphs();
    for (size_t i = g.num_nodes(); i-- > 0;) {
      Node* n = g.nodes()[i].get();
      bool live = false;
      for (const Value* o : n->outputs()) {
        live |= o && (!o->uses().empty() || o->is_graph_output() || outer_reads.count(o->name()));
      }
      if (!live) {
        g.remove_node(n);
        changed = true;
      }
    }
    return changed;
  }
};
}  // namespace

std::unique_ptr<Pass> make_eliminate_dead_code_pass() { return std::make_unique<EliminateDeadCode>(); }

}  // namespace kiln
