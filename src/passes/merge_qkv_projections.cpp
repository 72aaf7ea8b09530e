// Projections that read one input with their own constant weights (attention's Q, K and V)
// become one wider MatMul and a Split, so the input is read once and the GEMM is larger:
//   MatMul(x, Wq) [+ bq], MatMul(x, Wk) [+ bk], MatMul(x, Wv) [+ bv]
//   -> Split(MatMul(x, [Wq Wk Wv]) + [bq bk bv], last axis)
// Weights must be 2-D constants [K, Ni] of one dtype; biases constants [Ni] (zeros where a
// projection has none, as long as one has).
#include <algorithm>
#include <map>

#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct Projection {
  Node* matmul = nullptr;
  Node* bias_add = nullptr;  // optional
  Value* bias = nullptr;
  Value* out = nullptr;  // the projection's result (the Add's output when there is a bias)
  int64_t n = 0;
};

std::optional<Projection> projection_of(Node* mm, const Value* x, const GraphUses& uses) {
  if (!is_op(mm, "MatMul") || mm->input(0) != x) return std::nullopt;
  const Value* w = mm->input(1);
  if (!w->constant || w->constant->shape().size() != 2 || w->dtype != x->dtype || !is_float_type(w->dtype)) return std::nullopt;
  Projection p{mm, nullptr, nullptr, mm->output(0), w->constant->shape()[1]};
  if (uses.single_use(p.out)) {
    Node* add = sole_consumer(p.out);
    Value* b = other_operand(add, p.out);
    if (is_op(add, "Add") && b && b->constant && b->dtype == w->dtype && b->constant->shape() == Dims{p.n}) {
      p.bias_add = add;
      p.bias = b;
      p.out = add->output(0);
    }
  }
  return p;
}

class MergeQkvProjections final : public Pass {
 public:
  std::string name() const override { return "merge-qkv-projections"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    bool changed = false;
    std::vector<Value*> candidates;
    for (const auto& v : g.values()) {
      if (v->uses().size() >= 2 && is_float_type(v->dtype) && v->shape && v->shape->size() >= 2) candidates.push_back(v.get());
    }
    for (Value* x : candidates) {
      // Group the projections of x by weight height K.
      std::vector<Projection> group;
      for (const Use& u : x->uses()) {
        auto p = projection_of(u.node, x, uses);
        if (!p) continue;
        if (!group.empty() && p->matmul->input(1)->constant->shape()[0] != group[0].matmul->input(1)->constant->shape()[0]) continue;
        if (std::any_of(group.begin(), group.end(), [&](const Projection& q) { return q.matmul == p->matmul; })) continue;
        group.push_back(*p);
      }
      if (group.size() < 2) continue;
      // Keep them in graph order (the first MatMul is where the merged one goes).
      std::map<const Node*, size_t> pos;
      for (size_t i = 0; i < g.nodes().size(); ++i) pos[g.nodes()[i].get()] = i;
      std::sort(group.begin(), group.end(), [&](const Projection& a, const Projection& b) { return pos[a.matmul] < pos[b.matmul]; });
      KILN_RETURN_IF_ERROR(merge(g, x, group));
      changed = true;
    }
    g.remove_dead_values();
    return changed;
  }

 private:
  static Status merge(Graph& g, Value* x, const std::vector<Projection>& group) {
    const DataType dt = x->dtype;
    const int64_t k = group[0].matmul->input(1)->constant->shape()[0];
    int64_t total = 0;
    bool any_bias = false;
    for (const Projection& p : group) {
      total += p.n;
      any_bias |= p.bias != nullptr;
    }
    std::vector<double> w(static_cast<size_t>(k * total)), b(static_cast<size_t>(total), 0.0);
    int64_t col = 0;
    std::vector<const Node*> matmuls, adds;
    std::vector<Node*> gone;
    for (const Projection& p : group) {
      const std::vector<double> wi = *constant_as_doubles(p.matmul->input(1));
      for (int64_t r = 0; r < k; ++r) {
        for (int64_t c = 0; c < p.n; ++c) w[static_cast<size_t>(r * total + col + c)] = wi[static_cast<size_t>(r * p.n + c)];
      }
      if (p.bias) {
        const std::vector<double> bi = *constant_as_doubles(p.bias);
        for (int64_t c = 0; c < p.n; ++c) b[static_cast<size_t>(col + c)] = bi[static_cast<size_t>(c)];
      }
      col += p.n;
      matmuls.push_back(p.matmul);
      gone.push_back(p.matmul);
      if (p.bias_add) {
        adds.push_back(p.bias_add);
        gone.push_back(p.bias_add);
      }
    }
    const std::string base = group[0].matmul->name + "_qkv";
    Node* first = group[0].matmul;
    const int opset = onnx_opset(g);
    Value* weight = g.add_constant(base + "_weight", tensor_from_doubles(dt, {k, total}, w));
    MaybeShape shape = x->shape;
    shape->back() = Dim::known(total);
    Value* y = g.add_value(base + "_output", dt, shape);
    KILN_RETURN_IF_ERROR(insert_replacement(g, first, "", "MatMul", opset, {x, weight}, {y}, matmuls, base).status());
    if (any_bias) {
      Value* bias = g.add_constant(base + "_bias", tensor_from_doubles(dt, {total}, b));
      Value* yb = g.add_value(base + "_biased", dt, shape);
      KILN_RETURN_IF_ERROR(insert_replacement(g, first, "", "Add", opset, {y, bias}, {yb}, adds, base + "_bias").status());
      y = yb;
    }
    std::vector<Value*> outs;
    std::vector<int64_t> sizes;
    for (const Projection& p : group) {
      outs.push_back(p.out);
      sizes.push_back(p.n);
    }
    std::vector<Value*> split_ins{y};
    if (opset >= 13) split_ins.push_back(g.add_constant(base + "_split", int64_tensor(sizes)));
    KILN_ASSIGN_OR_RETURN(Node * split, insert_replacement(g, first, "", "Split", opset, split_ins, outs, {}, base + "_split"));
    split->attrs.set_int("axis", -1);
    if (opset < 13) split->attrs.set_ints("split", sizes);
    remove_nodes(g, gone);
    return ok_status();
  }
};

}  // namespace

std::unique_ptr<Pass> make_merge_qkv_projections_pass() { return std::make_unique<MergeQkvProjections>(); }

}  // namespace kiln
