// Scaled dot-product attention, as exporters write it, becomes one kiln.Attention
// (docs/fused_ops.md), absorbing the head split and merge around it:
//
//   q, k, v [B, S, H·D] -> Reshape [B, S, H, D] -> Transpose (q, v: 0213; k: 0231, or 0213 then
//   0132) -> MatMul(q, kᵀ) -> Div or Mul by a constant [-> Add(mask)] -> Softmax(last axis)
//   -> MatMul(·, v) -> Transpose 0213 -> Reshape [B, S, H·Dv]
//
// PyTorch's scaled_dot_product_attention, as torch.onnx writes it, differs in two ways that
// are taken too: the scale is applied to q and kᵀ before their MatMul (each multiplied by a
// constant, √scale each; any split counts, the product is the scale), and the softmax is
// followed by Where(IsNaN(p), 0, p), which turns the NaN rows of a softmax whose keys are all
// −∞ into zeros. kiln.Attention gives zeros for such rows anyway; it differs from the guard only
// where the scores themselves hold a NaN (the attention inputs did), which it passes on instead
// of zeroing the whole row.
//
// Every intermediate must be read only inside the pattern, and the shapes must show a real
// head split (the Reshape keeps B and S and splits the last dim into H and D): inference names
// unknown dims, so this holds for symbolic batch and sequence dims as well.
#include <algorithm>
#include <cmath>

#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

bool has_perm(const Node* n, std::vector<int64_t> perm) { return is_op(n, "Transpose") && n->attrs.get_ints("perm") == perm; }

// A Shape read only through Gather(axis 0, one constant index), as exporters read sizes: it
// needs no data, and the pass redirects it (see redirect_shape_reads).
bool is_shape_read(const Node* n) {
  if (!is_op(n, "Shape") || n->attrs.has("start") || n->attrs.has("end") || n->output(0)->is_graph_output()) return false;
  for (const Use& u : n->output(0)->uses()) {
    const Node* g = u.node;
    const Value* i = g->input(1);
    if (!is_op(g, "Gather") || u.input_index != 0 || g->attrs.get_int("axis", 0) != 0 || !i || !i->constant ||
        i->constant->numel() != 1 || i->dtype != DataType::kInt64) {
      return false;
    }
  }
  return true;
}

// The one node reading v's data (other readers only Shape reads), or nullptr.
Node* data_consumer(const Value* v, const GraphUses& uses) {
  if (uses.read_outside(v)) return nullptr;
  Node* only = nullptr;
  for (const Use& u : v->uses()) {
    if (is_shape_read(u.node)) continue;
    if (only && only != u.node) return nullptr;
    only = u.node;
  }
  return only;
}

struct HeadSplit {
  Value* source = nullptr;  // [B, S, H·D]
  int64_t heads = 0, head_dim = 0;
  std::vector<Node*> nodes;
};

// Reshape [B, S, H·D] -> [B, S, H, D]: returns the split, checking the shapes.
std::optional<HeadSplit> reshape_split(Node* reshape, const GraphUses& uses) {
  if (!is_op(reshape, "Reshape") || !uses.single_use(reshape->output(0))) return std::nullopt;
  Value* src = reshape->input(0);
  const MaybeShape& in = src->shape;
  const MaybeShape& out = reshape->output(0)->shape;
  if (!in || !out || in->size() != 3 || out->size() != 4) return std::nullopt;
  const Dim& h = (*out)[2];
  const Dim& d = (*out)[3];
  const Dim& hd = (*in)[2];
  if (!h.is_known() || !d.is_known() || !hd.is_known() || h.value * d.value != hd.value) return std::nullopt;
  if (!same_shape(SymShape{(*in)[0], (*in)[1]}, SymShape{(*out)[0], (*out)[1]})) return std::nullopt;
  return HeadSplit{src, h.value, d.value, {reshape}};
}

// q or v: Transpose(0213) of the split.
std::optional<HeadSplit> match_split(Value* t, const GraphUses& uses) {
  Node* tr = t ? t->producer() : nullptr;
  if (!has_perm(tr, {0, 2, 1, 3}) || !uses.single_use(t)) return std::nullopt;
  auto s = reshape_split(tr->input(0)->producer(), uses);
  if (s) s->nodes.push_back(tr);
  return s;
}

// kᵀ: Transpose(0231) of the split, or Transpose(0132) of Transpose(0213) of it.
std::optional<HeadSplit> match_split_transposed(Value* t, const GraphUses& uses) {
  Node* tr = t ? t->producer() : nullptr;
  if (!uses.single_use(t)) return std::nullopt;
  if (has_perm(tr, {0, 2, 3, 1})) {
    auto s = reshape_split(tr->input(0)->producer(), uses);
    if (s) s->nodes.push_back(tr);
    return s;
  }
  if (has_perm(tr, {0, 1, 3, 2})) {
    auto s = match_split(tr->input(0), uses);
    if (s) s->nodes.push_back(tr);
    return s;
  }
  return std::nullopt;
}

// x · c or c · x with c a one-element float constant, read only by that Mul: the Mul, else
// nullptr. Sets *scaled to x and multiplies *scale by c.
Node* scalar_scale(Value* v, const GraphUses& uses, Value** scaled, double* scale) {
  Node* mul = producer_op(v, "Mul");
  if (!mul || !uses.single_use(v)) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    const Value* c = mul->input(i);
    auto f = uniform_constant(c);
    if (f && c->constant->numel() == 1 && is_float_type(c->dtype)) {
      *scaled = mul->input(1 - i);
      *scale *= *f;
      return mul;
    }
  }
  return nullptr;
}

// Where(IsNaN(p), 0, p) reading the softmax output p (p read by these two alone, the IsNaN
// output by the Where alone): the two nodes, Where last.
std::optional<std::pair<Node*, Node*>> nan_guard(Value* p, const GraphUses& uses) {
  if (uses.read_outside(p) || p->uses().size() != 2) return std::nullopt;
  Node* isnan = nullptr;
  for (const Use& u : p->uses()) {
    if (is_op(u.node, "IsNaN")) isnan = u.node;
  }
  if (!isnan || !uses.single_use(isnan->output(0))) return std::nullopt;
  Node* where = isnan->output(0)->uses()[0].node;
  if (!is_op(where, "Where") || where->input(0) != isnan->output(0) || where->input(2) != p || where->input(1) == p) return std::nullopt;
  auto zero = uniform_constant(where->input(1));
  if (!zero || *zero != 0 || where->input(1)->constant->numel() != 1) return std::nullopt;
  if (!same_shape(where->output(0)->shape, p->shape)) return std::nullopt;
  return std::make_pair(isnan, where);
}

// Can the mask be added to scores of this shape without enlarging them? Each mask dim must be
// 1, or a dim the scores have too, or (when inference could not relate them, as a mask's `seq`
// and the scores' key count read through other shapes) face a scores dim that is not 1. The
// Attention kernel checks the broadcast again at run time.
bool mask_fits(const MaybeShape& mask, const MaybeShape& scores) {
  if (!mask || !scores || mask->size() > scores->size()) return false;
  const size_t off = scores->size() - mask->size();
  for (size_t i = 0; i < mask->size(); ++i) {
    const Dim& m = (*mask)[i];
    const Dim& s = (*scores)[off + i];
    if (m.is_known() && m.value == 1) continue;
    if (same_shape(SymShape{m}, SymShape{s})) continue;
    if (s.is_known() && (s.value == 1 || m.is_known())) return false;
  }
  return true;
}

// The dims of an intermediate, for redirecting Shape reads: [B,H,Sq,Sk] (scores),
// [B,H,Sq,Dv] (context), [B,Sq,H,Dv] (context with heads moved back).
enum class Layout { kScores, kContext, kMerged };

struct AttentionMatch {
  HeadSplit q, k, v;
  std::vector<std::pair<Value*, Layout>> intermediates;
  Value* mask = nullptr;
  Value* keep = nullptr;  // a boolean mask given through Where (with `fill` where false)
  Value* fill = nullptr;
  Node* where = nullptr;
  float scale = 1;
  Value* out = nullptr;
  std::vector<Node*> core;  // MatMul, scale, Add, Softmax, MatMul, Transpose, Reshape
};

std::optional<AttentionMatch> match(Node* softmax, const GraphUses& uses) {
  Value* in = softmax->input(0);
  if (!in->shape || in->shape->size() != 4) return std::nullopt;
  const int64_t axis = softmax->attrs.get_int("axis", softmax->opset >= 13 ? -1 : 1);
  if (axis != -1 && axis != 3) return std::nullopt;
  AttentionMatch m;
  Value* s = in;
  if (data_consumer(s, uses) != softmax) return std::nullopt;
  m.intermediates.push_back({s, Layout::kScores});
  std::vector<Node*> before;  // collected backwards from the Softmax
  if (Node* add = producer_op(s, "Add")) {
    // The scores side is the one computed as MatMul then a constant scale, perhaps through a
    // causal Where (a mask may well be a Mul too, as BERT's (1 - mask) · -10000).
    // Or it is the MatMul itself, of operands scaled ahead (PyTorch's export); then the mask
    // must be the side that is not a MatMul.
    auto scores_side = [](const Value* x) {
      const Node* p = x->producer();
      if (is_op(p, "Where")) p = p->input(1)->producer();
      if (!is_op(p, "Div") && !is_op(p, "Mul")) return false;
      for (size_t i = 0; i < 2; ++i) {
        if (producer_op(p->input(i), "MatMul") && uniform_constant(p->input(1 - i))) return true;
      }
      return false;
    };
    for (size_t i = 0; i < 2 && !m.mask; ++i) {
      if (scores_side(add->input(i))) {
        m.mask = add->input(1 - i);
        s = add->input(i);
      }
    }
    for (size_t i = 0; i < 2 && !m.mask; ++i) {
      if (producer_op(add->input(i), "MatMul") && !producer_op(add->input(1 - i), "MatMul")) {
        m.mask = add->input(1 - i);
        s = add->input(i);
      }
    }
    if (!m.mask || data_consumer(s, uses) != add || !is_float_type(m.mask->dtype) || m.mask->dtype != in->dtype) return std::nullopt;
    m.intermediates.push_back({s, Layout::kScores});
    if (!mask_fits(m.mask->shape, s->shape)) return std::nullopt;
    before.push_back(add);
  }
  // A causal (or other boolean) mask written as Where(keep, scores, very negative): becomes the
  // additive mask Where(keep, 0, fill). Only a fill so negative that adding the scores leaves
  // it unchanged (float32's lowest, -inf) makes the two the same.
  if (Node* where = producer_op(s, "Where")) {
    auto fill = uniform_constant(where->input(2));
    if (!fill || *fill > -1e30 || where->input(2)->constant->numel() != 1 || where->input(2)->dtype != in->dtype) return std::nullopt;
    if (where->input(0)->dtype != DataType::kBool || !mask_fits(where->input(0)->shape, s->shape) || data_consumer(where->input(1), uses) != where) {
      return std::nullopt;
    }
    m.keep = where->input(0);
    m.fill = where->input(2);
    m.where = where;
    s = where->input(1);
    m.intermediates.push_back({s, Layout::kScores});
  }
  bool scaled = true;
  if (producer_op(s, "MatMul")) {
    scaled = false;  // perhaps its operands are (below)
  } else if (Node* div = producer_op(s, "Div")) {
    auto c = uniform_constant(div->input(1));
    if (!c || *c == 0) return std::nullopt;
    m.scale = static_cast<float>(1.0 / *c);
    s = div->input(0);
    if (data_consumer(s, uses) != div) return std::nullopt;
    before.push_back(div);
  } else if (Node* mul = producer_op(s, "Mul")) {
    Value* c = nullptr;
    for (size_t i = 0; i < 2; ++i) {
      if (uniform_constant(mul->input(i)) && mul->input(i)->constant->numel() == 1) {
        c = mul->input(i);
        s = mul->input(1 - i);
      }
    }
    if (!c) return std::nullopt;
    m.scale = static_cast<float>(*uniform_constant(c));
    if (data_consumer(s, uses) != mul) return std::nullopt;
    before.push_back(mul);
  } else {
    return std::nullopt;  // unscaled attention is rare; leave it to the generic fusions
  }
  Node* qk = producer_op(s, "MatMul");
  if (!qk) return std::nullopt;
  m.intermediates.push_back({s, Layout::kScores});
  before.push_back(qk);
  // Operands scaled before the product: q·c1 and kᵀ·c2 (either or both).
  Value* q_in = qk->input(0);
  Value* k_in = qk->input(1);
  double pre_scale = 1;
  std::vector<Node*> pre;
  if (Node* mul = scalar_scale(qk->input(0), uses, &q_in, &pre_scale)) pre.push_back(mul);
  if (Node* mul = scalar_scale(qk->input(1), uses, &k_in, &pre_scale)) pre.push_back(mul);
  if (!scaled && pre.empty()) return std::nullopt;  // unscaled attention is rare; leave it to the generic fusions
  m.scale = static_cast<float>(m.scale * pre_scale);
  before.insert(before.end(), pre.rbegin(), pre.rend());
  auto q = match_split(q_in, uses);
  auto k = match_split_transposed(k_in, uses);
  if (!q || !k) return std::nullopt;
  // Forward from the Softmax [-> NaN guard]: · v, merge heads.
  Value* p = softmax->output(0);
  std::vector<Node*> guard;
  if (auto g = nan_guard(p, uses)) {
    guard = {g->first, g->second};
    m.intermediates.push_back({p, Layout::kScores});
    p = g->second->output(0);
  }
  Node* pv = data_consumer(p, uses);
  if (!is_op(pv, "MatMul") || pv->input(0) != p) return std::nullopt;
  m.intermediates.push_back({p, Layout::kScores});
  auto v = match_split(pv->input(1), uses);
  if (!v) return std::nullopt;
  Node* merge_t = data_consumer(pv->output(0), uses);
  if (!has_perm(merge_t, {0, 2, 1, 3})) return std::nullopt;
  m.intermediates.push_back({pv->output(0), Layout::kContext});
  Node* merge_r = data_consumer(merge_t->output(0), uses);
  if (!is_op(merge_r, "Reshape") || merge_r->input(0) != merge_t->output(0)) return std::nullopt;
  m.intermediates.push_back({merge_t->output(0), Layout::kMerged});
  // The merge keeps [B, Sq] and joins the heads: [B, Sq, H·Dv].
  const MaybeShape& out = merge_r->output(0)->shape;
  const MaybeShape& mt = merge_t->output(0)->shape;
  if (!out || !mt || out->size() != 3 || !(*out)[2].is_known() || (*out)[2].value != v->heads * v->head_dim) return std::nullopt;
  if (!same_shape(SymShape{(*out)[0], (*out)[1]}, SymShape{(*mt)[0], (*mt)[1]})) return std::nullopt;
  // One head count and head size for q and k; the same batch for q, k and v.
  if (q->heads != k->heads || q->heads != v->heads || q->head_dim != k->head_dim) return std::nullopt;
  if (!same_shape(SymShape{(*k->source->shape)[0], (*k->source->shape)[1]}, SymShape{(*v->source->shape)[0], (*v->source->shape)[1]})) {
    return std::nullopt;
  }
  const DataType dt = q->source->dtype;
  if (!is_float_type(dt) || k->source->dtype != dt || v->source->dtype != dt) return std::nullopt;
  m.q = *q;
  m.k = *k;
  m.v = *v;
  m.core.assign(before.rbegin(), before.rend());
  m.core.push_back(softmax);
  m.core.insert(m.core.end(), guard.begin(), guard.end());
  m.core.insert(m.core.end(), {pv, merge_t, merge_r});
  m.out = merge_r->output(0);
  return m;
}

// Points every Shape read of the pattern's intermediates at the dims the Attention's inputs
// carry (B and Sq from q, Sk from k; H and head sizes as constants), then drops those Shapes:
// the intermediates are about to disappear. Appends the Shape nodes it removed to `removed`.
Status redirect_shape_reads(Graph& g, const AttentionMatch& m, std::vector<Node*>* removed) {
  std::map<const Value*, Value*> source_shapes;  // Shape(q source), Shape(k source), made on first need
  for (const auto& [value, layout] : m.intermediates) {
    std::vector<Node*> shapes;
    for (const Use& u : value->uses()) {
      if (is_shape_read(u.node) && std::find(shapes.begin(), shapes.end(), u.node) == shapes.end()) shapes.push_back(u.node);
    }
    for (Node* shape : shapes) {
      std::vector<Node*> gathers;
      for (const Use& u : shape->output(0)->uses()) gathers.push_back(u.node);
      for (Node* gather : gathers) {
        int64_t axis = gather->input(1)->constant->data_as<int64_t>()[0];
        if (axis < 0) axis += 4;
        // (source, its axis) or a constant, per layout and axis.
        Value* src = nullptr;
        int64_t src_axis = 0, constant = 0;
        const int64_t h = m.q.heads, dv = m.v.head_dim;
        switch (layout) {
          case Layout::kScores:
            if (axis == 0 || axis == 2) src = m.q.source, src_axis = axis == 0 ? 0 : 1;
            else if (axis == 3) src = m.k.source, src_axis = 1;
            else constant = h;
            break;
          case Layout::kContext:
            if (axis == 0 || axis == 2) src = m.q.source, src_axis = axis == 0 ? 0 : 1;
            else constant = axis == 1 ? h : dv;
            break;
          case Layout::kMerged:
            if (axis <= 1) src = m.q.source, src_axis = axis;
            else constant = axis == 2 ? h : dv;
            break;
        }
        if (src) {
          // Placed before the split that reads src: after src, before every read of the scores.
          Node* pos = src == m.q.source ? m.q.nodes.front() : m.k.nodes.front();
          KILN_RETURN_IF_ERROR(read_dim_from(g, gather, src, src_axis, pos, source_shapes));
        } else {
          Tensor idx = *Tensor::allocate(DataType::kInt64, gather->input(1)->constant->shape());
          idx.data_as<int64_t>()[0] = 0;
          g.set_input(gather, 0, g.add_constant(gather->name + "_dim", int64_tensor({constant})));
          g.set_input(gather, 1, g.add_constant(gather->name + "_index", idx));
        }
      }
      g.remove_node(shape);
      removed->push_back(shape);
    }
  }
  return ok_status();
}

class FuseAttention final : public Pass {
 public:
  std::string name() const override { return "fuse-attention"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    return rewrite_each(g, [&](Node* n) -> Result<std::vector<Node*>> {
      auto m = is_op(n, "Softmax") ? match(n, uses) : std::nullopt;
      if (!m) return std::vector<Node*>{};
      std::vector<Node*> nodes;
      for (const HeadSplit* h : {&m->q, &m->k, &m->v}) nodes.insert(nodes.end(), h->nodes.begin(), h->nodes.end());
      nodes.insert(nodes.end(), m->core.begin(), m->core.end());
      std::vector<Node*> shape_reads;  // removed too: rewrite_each must not visit them
      KILN_RETURN_IF_ERROR(redirect_shape_reads(g, *m, &shape_reads));
      Value* mask = m->mask;
      if (m->where) {
        // keep ? 0 : fill, added to the scores; plus the additive mask when there is one too.
        Node* pos = m->core.back();
        Value* zero = g.add_constant(m->where->name + "_zero", tensor_from_doubles(m->fill->dtype, {}, {0.0}));
        Value* bias = g.add_value(m->where->name + "_additive", m->fill->dtype, m->keep->shape);
        KILN_RETURN_IF_ERROR(insert_replacement(g, pos, "", "Where", onnx_opset(g), {m->keep, zero, m->fill}, {bias}, {m->where},
                                                m->where->name).status());
        if (mask) {
          Value* both = g.add_value(m->where->name + "_mask", m->fill->dtype);
          KILN_RETURN_IF_ERROR(insert_replacement(g, pos, "", "Add", onnx_opset(g), {bias, mask}, {both}, {}, m->where->name + "_mask").status());
          mask = both;
        } else {
          mask = bias;
        }
        nodes.push_back(m->where);
      }
      std::vector<Value*> ins{m->q.source, m->k.source, m->v.source};
      if (mask) ins.push_back(mask);
      std::vector<const Node*> from;
      for (const Node* k : nodes) {
        if (k != m->where) from.push_back(k);
      }
      KILN_ASSIGN_OR_RETURN(Node * a, insert_replacement(g, m->core.back(), "kiln", "Attention", 1, ins, {m->out}, from, n->name));
      a->attrs.set_int("num_heads", m->q.heads);
      a->attrs.set_float("scale", m->scale);
      remove_nodes(g, nodes);
      nodes.insert(nodes.end(), shape_reads.begin(), shape_reads.end());
      return nodes;
    });
  }
};

}  // namespace

std::unique_ptr<Pass> make_fuse_attention_pass() { return std::make_unique<FuseAttention>(); }

}  // namespace kiln
