// A Transpose of an operand's last two dims, read only by a MatMul or Gemm, folds into it:
// MatMul becomes kiln.FusedMatMul with trans_a / trans_b set (its kernels read the operand
// transposed for free), Gemm flips transA / transB. GPT-2's tied lm_head, MatMul(x,
// Transpose(wte)), then reads the embedding table as stored instead of a transposed copy.
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// A Transpose that swaps the last two dims and keeps the others, read only by one node.
bool swaps_last_two(const Node* t, const GraphUses& uses) {
  if (!is_op(t, "Transpose") || !uses.single_use(t->output(0)) || !t->input(0)->shape) return false;
  const size_t r = t->input(0)->shape->size();
  if (r < 2) return false;
  std::vector<int64_t> want;
  for (size_t i = 0; i + 2 < r; ++i) want.push_back(static_cast<int64_t>(i));
  want.push_back(static_cast<int64_t>(r - 1));
  want.push_back(static_cast<int64_t>(r - 2));
  return t->attrs.get_ints("perm") == want;
}

class FoldTransposeIntoMatMul final : public Pass {
 public:
  std::string name() const override { return "fold-transpose-into-matmul"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    bool changed = false;
    for (Node* n : order) {
      const bool gemm = is_op(n, "Gemm");
      const bool fused = n->domain == "kiln" && n->op_type == "FusedMatMul";
      if (!gemm && !fused && !is_op(n, "MatMul")) continue;
      for (size_t i = 0; i < 2; ++i) {
        Node* t = n->input(i) ? n->input(i)->producer() : nullptr;
        if (!swaps_last_two(t, uses)) continue;
        if (gemm) {
          const char* flag = i == 0 ? "transA" : "transB";
          n->attrs.set_int(flag, 1 - n->attrs.get_int(flag, 0));
          g.set_input(n, i, t->input(0));
          n->fused_from.insert(n->fused_from.end(), t->fused_from.begin(), t->fused_from.end());
          g.remove_node(t);
          changed = true;
          continue;
        }
        // MatMul: both operands need rank >= 2 to be transposed as FusedMatMul defines.
        if (!n->input(1 - i)->shape || n->input(1 - i)->shape->size() < 2) continue;
        std::vector<Value*> ins(n->inputs().begin(), n->inputs().end());
        ins[i] = t->input(0);
        Attributes attrs = n->attrs;
        const char* flag = i == 0 ? "trans_a" : "trans_b";
        attrs.set_int(flag, 1 - attrs.get_int(flag, 0));
        KILN_ASSIGN_OR_RETURN(Node * m, replace_nodes(g, {n, t}, "kiln", "FusedMatMul", 1, ins, n->output(0), n->name));
        m->attrs = attrs;
        n = m;
        changed = true;
      }
    }
    g.remove_dead_values();
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_transpose_into_matmul_pass() { return std::make_unique<FoldTransposeIntoMatMul>(); }

}  // namespace kiln
