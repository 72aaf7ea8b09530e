// Level 3, for backends whose convolutions are fastest channels-last (the cpu backend: oneDNN's
// AVX-512 f32 convolutions read and write NHWC, and on NCHW fall back to im2col + GEMM, 2-10x
// slower). Every 2-D float32 Conv / kiln.FusedConv that reads a channels-last value or leads to
// another convolution (a lone one would only pay for two Transposes) becomes a FusedConv with
// channels_last = 1,
// reading X (and the residual Z) as N×H×W×C and writing Y the same way; the pointwise ops and
// max and global average pools that only read channels-last values follow them (MaxPool becomes
// kiln.MaxPool with channels_last, GlobalAveragePool, or a ReduceMean over H and W with keepdims,
// a ReduceMean over the channels-last H and W). The layout is explicit in the graph: a Transpose to
// channels-last is inserted where a converted node reads an NCHW value, and a Transpose back
// produces the original NCHW value, so readers that were not converted see what they saw before.
// Between two converted nodes the back-and-forth pair is never read and the cleanup passes that
// follow remove it: what remains are Transposes at the edges of each convolution region.
#include <set>

#include "ir/shape.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// Elementwise ops with no axis semantics: they give the same elements in any layout as long as
// every non-scalar operand is in the same layout with the same shape.
const std::set<std::string>& layout_free_ops() {
  static const std::set<std::string> ops{"Relu",  "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                                         "Elu",   "Selu",      "Gelu", "Erf",     "Exp",  "Neg",         "Abs",
                                         "Sqrt",  "Softplus",  "Add",  "Sub",     "Mul",  "Div",         "Max",
                                         "Min",   "Sum",       "Mish", "PRelu"};
  return ops;
}

bool is_scalar_constant(const Value* v) { return v && v->constant && v->constant->numel() == 1 && v->constant->rank() <= 1; }

bool rank4_float32(const Value* v) { return v && v->dtype == DataType::kFloat32 && v->shape && v->shape->size() == 4; }

class ConvertToChannelsLast final : public Pass {
 public:
  std::string name() const override { return "convert-to-channels-last"; }
  int level() const override { return 3; }
  bool wanted(const PassOptions& o) const override { return o.channels_last_convs; }

  Result<bool> run(Graph& g) override {
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    twin_.clear();
    bool changed = false;
    for (Node* n : order) {
      if (is_conv(n) && (twin_.count(n->input(0)) || leads_to_conv(n->output(0), 3))) {
        KILN_RETURN_IF_ERROR(convert_conv(g, n));
        changed = true;
      } else if (is_global_average_pool(n)) {
        KILN_RETURN_IF_ERROR(convert_global_average_pool(g, n));
        changed = true;
      } else if (is_max_pool(n)) {
        KILN_RETURN_IF_ERROR(convert_max_pool(g, n));
        changed = true;
      } else if (follows_channels_last(n)) {
        KILN_RETURN_IF_ERROR(convert_pointwise(g, n));
        changed = true;
      }
    }
    return changed;
  }

 private:
  // A 2-D convolution on float32 whose geometry is known (so the channels-last shapes are).
  static bool is_conv(const Node* n) {
    const bool fused = n->domain == "kiln" && n->op_type == "FusedConv";
    if (!fused && !is_op(n, "Conv")) return false;
    if (fused && n->attrs.get_int("channels_last", 0) != 0) return false;
    if (!rank4_float32(n->input(0)) || !rank4_float32(n->output(0)) || !n->input(1) || n->input(1)->dtype != DataType::kFloat32) {
      return false;
    }
    return n->num_inputs() < 4 || !n->input(3) || rank4_float32(n->input(3));
  }

  // Does v reach another convolution through at most `depth` pools or layout-free ops? A lone
  // convolution (ViT's patch embedding) gains nothing from two Transposes around it.
  bool leads_to_conv(const Value* v, int depth) const {
    for (const Use& u : v->uses()) {
      const Node* c = u.node;
      if (is_conv(c)) return true;
      const bool passes_layout = is_op(c, "MaxPool") || (c->domain.empty() && layout_free_ops().count(c->op_type));
      if (depth > 0 && passes_layout && c->num_outputs() >= 1 && c->output(0) && leads_to_conv(c->output(0), depth - 1)) return true;
    }
    return false;
  }

  // GlobalAveragePool of a channels-last value, or the same written as ReduceMean over H and W
  // with keepdims (PyTorch's dynamo exporter writes adaptive_avg_pool2d(x, 1) so).
  bool is_global_average_pool(const Node* n) const {
    if (!n->input(0) || !twin_.count(n->input(0)) || !rank4_float32(n->output(0))) return false;
    if (is_op(n, "GlobalAveragePool")) return true;
    auto k = reduce_mean_trailing_axes(n);
    return k && *k == 2 && rank4_float32(n->input(0));
  }

  // A 2-D MaxPool of a channels-last value with only the pooled output read.
  bool is_max_pool(const Node* n) const {
    if (!is_op(n, "MaxPool") || !twin_.count(n->input(0)) || !rank4_float32(n->output(0))) return false;
    if (n->num_outputs() > 1 && n->output(1) && (!n->output(1)->uses().empty() || n->output(1)->is_graph_output())) return false;
    return n->attrs.get_int("storage_order", 0) == 0;
  }

  // A layout-free op whose 4-D operands are all channels-last already, each of the output's shape.
  bool follows_channels_last(const Node* n) const {
    if (!n->domain.empty() || !layout_free_ops().count(n->op_type) || n->num_outputs() != 1 || !rank4_float32(n->output(0))) return false;
    bool any = false;
    for (const Value* in : n->inputs()) {
      if (!in) continue;
      if (twin_.count(in) && same_shape(in->shape, n->output(0)->shape)) {
        any = true;
      } else if (!is_scalar_constant(in)) {
        return false;
      }
    }
    return any;
  }

  // The channels-last twin of v: a converted node's output, or a Transpose inserted before `pos`.
  Result<Value*> channels_last_of(Graph& g, Value* v, Node* pos) {
    if (auto it = twin_.find(v); it != twin_.end()) return it->second;
    Value* t = g.add_value(g.unique_name(v->name() + "_nhwc"), v->dtype, channels_last_shape(*v->shape));
    KILN_ASSIGN_OR_RETURN(Node * tr, insert_replacement(g, pos, "", "Transpose", onnx_opset(g), {v}, {t}, {}, v->name() + "_to_nhwc"));
    tr->attrs.set_ints("perm", to_channels_last_perm(4));
    twin_[v] = t;
    return t;
  }

  // Replaces n by `op` on channels-last inputs producing a twin of n's output, and a Transpose
  // back to n's output for the readers that stay channels-first.
  Status replace(Graph& g, Node* n, const std::string& domain, const std::string& op, int opset, std::vector<Value*> inputs,
                 Attributes attrs) {
    Value* y = n->output(0);
    Value* y_cl = g.add_value(g.unique_name(y->name() + "_nhwc"), y->dtype, channels_last_shape(*y->shape));
    KILN_ASSIGN_OR_RETURN(Node * m, insert_replacement(g, n, domain, op, opset, std::move(inputs), {y_cl}, {n}, n->name));
    m->attrs = std::move(attrs);
    KILN_ASSIGN_OR_RETURN(Node * back, insert_replacement(g, n, "", "Transpose", onnx_opset(g), {y_cl}, {y}, {}, y->name() + "_to_nchw"));
    back->attrs.set_ints("perm", to_channels_first_perm(4));
    g.remove_node(n);
    twin_[y] = y_cl;
    return ok_status();
  }

  Status convert_conv(Graph& g, Node* n) {
    std::vector<Value*> ins(n->inputs().begin(), n->inputs().end());
    KILN_ASSIGN_OR_RETURN(ins[0], channels_last_of(g, ins[0], n));
    if (ins.size() > 3 && ins[3]) {
      KILN_ASSIGN_OR_RETURN(ins[3], channels_last_of(g, ins[3], n));
    }
    Attributes attrs = n->attrs;  // Conv's attributes are FusedConv's; a FusedConv keeps its epilogue
    attrs.set_int("channels_last", 1);
    return replace(g, n, "kiln", "FusedConv", 1, std::move(ins), std::move(attrs));
  }

  // Channels-last global average pooling is a mean over the spatial dims 1 and 2.
  Status convert_global_average_pool(Graph& g, Node* n) {
    Attributes attrs;
    attrs.set_ints("axes", {1, 2});
    attrs.set_int("keepdims", 1);
    return replace(g, n, "", "ReduceMean", 13, {twin_.at(n->input(0))}, std::move(attrs));
  }

  Status convert_max_pool(Graph& g, Node* n) {
    Attributes attrs;
    for (const char* a : {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}) {
      if (const Attribute* v = n->attrs.find(a)) attrs.set(a, *v);
    }
    attrs.set_int("channels_last", 1);
    return replace(g, n, "kiln", "MaxPool", 1, {twin_.at(n->input(0))}, std::move(attrs));
  }

  Status convert_pointwise(Graph& g, Node* n) {
    std::vector<Value*> ins(n->inputs().begin(), n->inputs().end());
    for (Value*& in : ins) {
      if (in && twin_.count(in)) in = twin_.at(in);
    }
    return replace(g, n, n->domain, n->op_type, n->opset, std::move(ins), n->attrs);
  }

  std::map<const Value*, Value*> twin_;  // channels-first value -> its channels-last twin
};

}  // namespace

std::unique_ptr<Pass> make_convert_to_channels_last_pass() { return std::make_unique<ConvertToChannelsLast>(); }

}  // namespace kiln
