// A Split of one [B, S, 3E] value into Q, K and V that feed one kiln.Attention (what
// merge-qkv-projections leaves: the merged projection, then the Split) is removed; the Attention
// reads the unsplit value in place as a packed QKV (qkv_packed = 1, docs/fused_ops.md):
//
//   x [B, S, 3E] -> Split(last axis, 3 equal parts) -> q, k, v -> Attention(q, k, v [, mask])
//   -> Attention(x, -, - [, mask]; qkv_packed = 1)
//
// The Split copied the whole product once per layer; the attention kernels read Q, K and V
// through a row stride of 3E instead. Output i of the Split must be read only by the Attention's
// input i (not by another node, a graph output or a subgraph), and the parts must be equal in
// the Split's attribute or input when given and in the inferred shapes: x's last dim known and 3
// times each part's.
#include <algorithm>

#include "ir/ops/fused/fused_util.h"
#include "ir/ops/infer_util.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool is_attention(const Node* n) { return n && n->domain == kKilnDomain && n->op_type == "Attention"; }

// The Split's explicit sizes (attribute before opset 13, input 1 from 13 or at opset 1), when it
// has them: nullopt when absent, an empty vector when they are not known ahead.
std::optional<std::vector<int64_t>> explicit_sizes(const Node* split) {
  if (split->opset < 13 && split->attrs.has("split")) return split->attrs.get_ints("split");
  const Value* s = split->input(1);
  if (!s) return std::nullopt;
  if (!s->constant) return std::vector<int64_t>{};
  auto v = read_int64s(*s->constant);
  return v.ok() ? *v : std::vector<int64_t>{};
}

// Is n a Split of a rank-3 value along its last axis into three equal known parts?
bool splits_last_axis_in_three(const Node* n) {
  if (!is_op(n, "Split") || n->num_outputs() != 3) return false;
  const Value* x = n->input(0);
  if (!x || !x->shape || x->shape->size() != 3 || !x->shape->back().is_known()) return false;
  const int64_t axis = n->attrs.get_int("axis", 0);
  if (axis != -1 && axis != 2) return false;
  const int64_t part = x->shape->back().value / 3;
  if (part * 3 != x->shape->back().value) return false;
  if (auto sizes = explicit_sizes(n); sizes && *sizes != std::vector<int64_t>(3, part)) return false;
  for (const Value* o : n->outputs()) {
    // The inferred shapes must agree (num_outputs with a smaller last chunk, for instance, does not).
    if (!o || !o->shape || o->shape->size() != 3 || !o->shape->back().is_known() || o->shape->back().value != part) {
      return false;
    }
  }
  return true;
}

class PackQkvAttention final : public Pass {
 public:
  std::string name() const override { return "pack-qkv-attention"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* split) -> Result<std::vector<Node*>> {
      if (!splits_last_axis_in_three(split)) return std::vector<Node*>{};
      // Output i read once, by input i of one Attention that is not packed yet.
      Node* att = nullptr;
      for (size_t i = 0; i < 3; ++i) {
        const Value* o = split->output(i);
        if (!uses.single_use(o)) return std::vector<Node*>{};
        const Use& u = o->uses()[0];
        if (u.input_index != i || !is_attention(u.node) || (att && u.node != att)) return std::vector<Node*>{};
        att = u.node;
      }
      if (att->attrs.get_int("qkv_packed", 0) != 0) return std::vector<Node*>{};
      g.set_input(att, 0, split->input(0));
      g.set_input(att, 1, nullptr);
      g.set_input(att, 2, nullptr);
      att->attrs.set_int("qkv_packed", 1);
      for (const std::string& f : split->fused_from) {
        if (std::find(att->fused_from.begin(), att->fused_from.end(), f) == att->fused_from.end()) {
          att->fused_from.push_back(f);
        }
      }
      g.remove_node(split);
      return std::vector<Node*>{split};
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_pack_qkv_attention_pass() { return std::make_unique<PackQkvAttention>(); }

}  // namespace kiln
