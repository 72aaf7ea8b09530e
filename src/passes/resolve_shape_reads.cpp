// Reads of a tensor's dims through Shape -> Gather are redirected to the first value that has
// the same dims, or become constants when the dims are known.
//
// Exporters read sizes from whatever tensor is at hand: BERT's head merge reads batch and
// sequence length from the transposed attention context. That extra reader keeps the context
// alive as a tensor and blocks fusing the attention. Symbolic inference gives equal dims equal
// names, so Gather(Shape(x), i) with x's dim i named `seq` equals the same read on the first
// value (graph inputs first) with a `seq` dim; reading it there leaves x to its real consumers.
#include <map>

#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct DimSource {
  Value* value;
  int64_t axis;
};

class ResolveShapeReads final : public Pass {
 public:
  std::string name() const override { return "resolve-shape-reads"; }
  int level() const override { return 1; }
  Result<bool> run(Graph& g) override {
    // The first value carrying each symbol.
    std::map<std::string, DimSource> first;
    auto note = [&](Value* v) {
      if (!v || !v->shape) return;
      for (size_t i = 0; i < v->shape->size(); ++i) {
        const Dim& d = (*v->shape)[i];
        if (!d.is_known() && !d.symbol.empty() && !first.count(d.symbol)) first[d.symbol] = {v, static_cast<int64_t>(i)};
      }
    };
    for (Value* in : g.inputs()) note(in);
    for (const auto& n : g.nodes()) {
      for (Value* o : n->outputs()) note(o);
    }
    std::vector<Node*> order;
    for (const auto& n : g.nodes()) order.push_back(n.get());
    std::map<const Value*, Value*> shape_of;  // Shape nodes this pass made, per source (read_dim_from)
    bool changed = false;
    for (Node* gather : order) {
      if (!is_op(gather, "Gather") || gather->attrs.get_int("axis", 0) != 0) continue;
      Node* shape = producer_op(gather->input(0), "Shape");
      const Value* idx = gather->input(1);
      if (!shape || shape->attrs.has("start") || shape->attrs.has("end") || !idx->constant || idx->constant->numel() != 1 ||
          idx->dtype != DataType::kInt64) {
        continue;
      }
      Value* x = shape->input(0);
      if (!x->shape) continue;
      const int64_t rank = static_cast<int64_t>(x->shape->size());
      int64_t i = idx->constant->data_as<int64_t>()[0];
      if (i < 0) i += rank;
      if (i < 0 || i >= rank) continue;
      const Dim& d = (*x->shape)[static_cast<size_t>(i)];
      Value* out = gather->output(0);
      const Dims out_dims = idx->constant->shape();  // 0-D or [1]
      if (d.is_known()) {
        Tensor t = *Tensor::allocate(DataType::kInt64, out_dims);
        t.data_as<int64_t>()[0] = d.value;
        Value* c = g.add_constant(out->name() + "_value", t);
        if (out->is_graph_output()) continue;
        g.replace_all_uses(out, c);
        changed = true;
        continue;
      }
      auto it = first.find(d.symbol);
      if (d.symbol.empty() || it == first.end() || (it->second.value == x && it->second.axis == i)) continue;
      KILN_RETURN_IF_ERROR(read_dim_from(g, gather, it->second.value, it->second.axis, gather, shape_of));
      changed = true;
    }
    g.remove_dead_values();
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_resolve_shape_reads_pass() { return std::make_unique<ResolveShapeReads>(); }

}  // namespace kiln
