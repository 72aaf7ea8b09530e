#include "passes/epilogue.h"

#include <set>

#include "fmt/format.h"
#include "passes/activation_match.h"

namespace kiln {

namespace {

// A layer being fused: its four input slots and attributes as the fused op will have them.
struct Layer {
  Node* origin = nullptr;
  std::vector<Value*> in{nullptr, nullptr, nullptr, nullptr};  // X W B Z / A B bias Z
  Attributes attrs;
  std::vector<Node*> absorbed;
  Value* out = nullptr;
  bool has_activation = false;
  bool has_post = false;
  Value* residual() const { return in[3]; }
  Value* bias() const { return in[2]; }
};

constexpr size_t kBias = 2, kResidual = 3;

// Starts a layer from a Conv/FusedConv or MatMul/Gemm/FusedMatMul node; nullopt if n is not one
// this pass can fuse.
std::optional<Layer> start_layer(Graph& g, Node* n, EpilogueLayer kind) {
  if (n->num_outputs() != 1 || !n->output(0) || !is_float_type(n->output(0)->dtype)) return std::nullopt;
  Layer l;
  l.origin = n;
  l.out = n->output(0);
  const bool fused = n->domain == "kiln";
  if (kind == EpilogueLayer::kConv) {
    if (fused ? n->op_type != "FusedConv" : !is_op(n, "Conv")) return std::nullopt;
    for (size_t i = 0; i < n->num_inputs() && i < 4; ++i) l.in[i] = n->input(i);
    l.attrs = n->attrs;
  } else if (fused ? n->op_type == "FusedMatMul" : is_op(n, "MatMul")) {
    for (size_t i = 0; i < n->num_inputs() && i < 4; ++i) l.in[i] = n->input(i);
    l.attrs = n->attrs;
  } else if (is_op(n, "Gemm")) {
    l.in[0] = n->input(0);
    l.in[1] = n->input(1);
    const float beta = n->attrs.get_float("beta", 1.0f);
    if (Value* c = n->input(2); c && beta != 0.0f) {
      if (beta == 1.0f) {
        l.in[kBias] = c;
      } else {
        auto vals = constant_as_doubles(c);
        if (!vals) return std::nullopt;  // C·beta is only foldable for a constant C
        for (double& x : *vals) x *= beta;
        l.in[kBias] = g.add_constant(c->name() + "_scaled", tensor_from_doubles(c->dtype, c->constant->shape(), *vals));
      }
    }
    l.attrs.set_int("trans_a", n->attrs.get_int("transA", 0));
    l.attrs.set_int("trans_b", n->attrs.get_int("transB", 0));
    l.attrs.set_float("alpha", n->attrs.get_float("alpha", 1.0f));
  } else {
    return std::nullopt;
  }
  l.has_activation = !l.attrs.get_string("activation", "").empty();
  l.has_post = !l.attrs.get_string("post_activation", "").empty();
  return l;
}

// Conv output channels: dim 1 of the output.
std::optional<int64_t> out_channels(const Value* y) {
  if (!y->shape || y->shape->size() < 3 || !(*y->shape)[1].is_known()) return std::nullopt;
  return (*y->shape)[1].value;
}

// A constant that is one value per output channel of a conv ([C,1,..,1] or [1,C,1,..,1]).
std::optional<std::vector<double>> per_channel_constant(const Value* c, const Value* y) {
  auto ch = out_channels(y);
  if (!ch || !c->constant || c->dtype != y->dtype) return std::nullopt;
  const Dims& d = c->constant->shape();
  const size_t spatial = y->shape->size() - 2;
  size_t lead = 0;
  if (d.size() == spatial + 2 && d[0] == 1) lead = 1;
  else if (d.size() != spatial + 1) return std::nullopt;
  if (d[lead] != *ch) return std::nullopt;
  for (size_t i = lead + 1; i < d.size(); ++i) {
    if (d[i] != 1) return std::nullopt;
  }
  return constant_as_doubles(c);
}

// Tries to absorb the node reading l.out; returns whether it did.
bool absorb_next(Graph& g, Layer& l, EpilogueLayer kind, const GraphUses& uses) {
  if (auto act = match_activation(l.out, uses)) {
    const char* slot = nullptr;
    if (!l.has_activation && !l.residual()) slot = "activation";
    else if (l.residual() && !l.has_post) slot = "post_activation";
    if (!slot) return false;
    l.attrs.set_string(slot, act->name);
    l.attrs.set_float(std::string(slot) + "_alpha", act->alpha);
    l.attrs.set_float(std::string(slot) + "_beta", act->beta);
    (std::string(slot) == "activation" ? l.has_activation : l.has_post) = true;
    l.absorbed.insert(l.absorbed.end(), act->nodes.begin(), act->nodes.end());
    l.out = act->output;
    return true;
  }
  if (!uses.single_use(l.out)) return false;
  Node* add = sole_consumer(l.out);
  // Sum of two is Add (older exporters write residuals so).
  const bool is_add = is_op(add, "Add") || (is_op(add, "Sum") && add->num_inputs() == 2);
  if (!is_add || add->output(0)->dtype != l.out->dtype) return false;
  Value* o = other_operand(add, l.out);
  if (!o) return false;
  const bool clean = !l.has_activation && !l.residual();  // nothing applied after the bias yet
  if (kind == EpilogueLayer::kConv && clean && o->is_constant()) {
    auto add_vals = per_channel_constant(o, l.out);
    auto ch = out_channels(l.out);
    std::optional<std::vector<double>> bias = std::vector<double>(static_cast<size_t>(ch ? *ch : 0), 0.0);
    if (l.bias()) bias = constant_as_doubles(l.bias());
    if (add_vals && bias && bias->size() == add_vals->size()) {
      for (size_t i = 0; i < bias->size(); ++i) (*bias)[i] += (*add_vals)[i];
      l.in[kBias] = g.add_constant(add->name + "_bias", tensor_from_doubles(l.out->dtype, {*ch}, *bias));
      l.absorbed.push_back(add);
      l.out = add->output(0);
      return true;
    }
  }
  if (kind == EpilogueLayer::kMatMul && clean && !l.bias() && o->is_constant() && o->shape &&
      broadcasts_into(o->shape, l.out->shape)) {
    l.in[kBias] = o;
    l.absorbed.push_back(add);
    l.out = add->output(0);
    return true;
  }
  if (l.residual() || o->dtype != l.out->dtype) return false;
  const bool fits = kind == EpilogueLayer::kConv ? same_shape(o->shape, l.out->shape) : broadcasts_into(o->shape, l.out->shape);
  if (!fits || !same_shape(add->output(0)->shape, l.out->shape)) return false;
  l.in[kResidual] = o;
  l.absorbed.push_back(add);
  l.out = add->output(0);
  return true;
}

}  // namespace

Result<bool> fuse_epilogues(Graph& g, EpilogueLayer kind) {
  const GraphUses uses(g);
  return rewrite_each(g, [&](Node* n) -> Result<std::vector<Node*>> {
    auto layer = start_layer(g, n, kind);
    if (!layer) return std::vector<Node*>{};
    while (absorb_next(g, *layer, kind, uses)) {
    }
    if (layer->absorbed.empty()) return std::vector<Node*>{};  // nothing to fuse (a lone Gemm is one layer already)
    std::vector<Value*> ins = layer->in;
    while (!ins.empty() && !ins.back()) ins.pop_back();
    std::vector<Node*> group{n};
    group.insert(group.end(), layer->absorbed.begin(), layer->absorbed.end());
    const char* op = kind == EpilogueLayer::kConv ? "FusedConv" : "FusedMatMul";
    KILN_ASSIGN_OR_RETURN(Node * fused, replace_nodes(g, group, "kiln", op, 1, ins, layer->out, n->name));
    fused->attrs = layer->attrs;
    return group;
  });
}

}  // namespace kiln
