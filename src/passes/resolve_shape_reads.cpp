// Reads of a tensor's dims through Shape -> Gather are redirected to the first value that has
// the same dims, or become constants when the dims are known.
//
// Exporters read sizes from whatever tensor is at hand: BERT's head merge reads batch and
// sequence length from the transposed attention context. That extra reader keeps the context
// alive as a tensor and blocks fusing the attention. Symbolic inference gives equal dims equal
// names, so Gather(Shape(x), i) with x's dim i named `seq` equals the same read on the first
// value (graph inputs first) with a `seq` dim; reading it there leaves x to its real consumers.
//
// A Shape(x) read whole by something else (an Expand's shape) is rebuilt the same way when none of
// its dims is first carried by x: Concat of the known dims as constants and one-dim reads of the
// values that carry the others. PyTorch's exporter expands BERT's attention-mask index grid to
// Shape(Max(a, b)), a Max computed only for its shape; rebuilt, the Max goes.
#include <map>

#include "ir/ops/tensor/tensor_ops.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

struct DimSource {
  Value* value;
  int64_t axis;
};

// A read of one dim of a whole Shape: Gather(Shape(x), i) along axis 0 with a constant int64 i of
// one element (0-D or [1]). The loop below redirects those one at a time.
bool is_dim_read(const Node* shape, const Use& use) {
  const Node* gather = use.node;
  if (shape->attrs.has("start") || shape->attrs.has("end")) return false;
  if (!is_op(gather, "Gather") || use.input_index != 0 || gather->attrs.get_int("axis", 0) != 0) return false;
  const Value* idx = gather->input(1);
  return idx && idx->constant && idx->constant->numel() == 1 && idx->dtype == DataType::kInt64;
}

// Rebuilds Shape(x) from constants and one-dim reads of other values (see the top of the file)
// when x is computed, something other than one-dim reads reads the Shape, and every dim it reads
// is known or first carried by another value. `shape_of`: the Shape nodes this pass made, per source.
Result<bool> rebuild_shape(Graph& g, Node* shape, const std::map<std::string, DimSource>& first,
                           std::map<const Value*, Value*>& shape_of) {
  Value* x = shape->input(0);
  Value* out = shape->output(0);
  if (!x || !x->shape || !out || out->is_graph_output() || out->uses().empty()) return false;
  // A graph input's or a constant's shape costs nothing to read: no node is kept for it.
  if (x->is_graph_input() || x->constant) return false;
  bool only_dim_reads = true;
  for (const Use& u : out->uses()) only_dim_reads &= is_dim_read(shape, u);
  if (only_dim_reads) return false;
  const int64_t rank = static_cast<int64_t>(x->shape->size());
  int64_t start = 0, end = rank;
  if (shape->opset >= 15) {
    start = shape->attrs.get_int("start", 0);
    end = shape->attrs.get_int("end", rank);
  }
  const auto [b, e] = shape_range(start, end, rank);
  // Each dim read: its value when known, else the value and axis that first carry its symbol.
  std::vector<std::optional<DimSource>> sources;
  bool symbolic = false;
  for (int64_t i = b; i < e; ++i) {
    const Dim& d = (*x->shape)[static_cast<size_t>(i)];
    if (d.is_known()) {
      sources.push_back(std::nullopt);
      continue;
    }
    auto it = first.find(d.symbol);
    if (d.symbol.empty() || it == first.end() || it->second.value == x) return false;
    sources.push_back(it->second);
    symbolic = true;
  }
  if (!symbolic) return false;  // every dim known: inference already made the value a constant
  const int opset = onnx_opset(g);
  const std::vector<const Node*> from{shape};
  std::vector<Value*> parts;
  std::vector<int64_t> known;  // a run of known dims, one constant
  auto flush_known = [&] {
    if (known.empty()) return;
    Tensor t = *Tensor::allocate(DataType::kInt64, {static_cast<int64_t>(known.size())});
    for (size_t k = 0; k < known.size(); ++k) t.data_as<int64_t>()[k] = known[k];
    parts.push_back(g.add_constant(g.unique_name(out->name() + "_known"), std::move(t)));
    known.clear();
  };
  for (int64_t i = b; i < e; ++i) {
    const std::optional<DimSource>& src = sources[static_cast<size_t>(i - b)];
    if (!src) {
      known.push_back((*x->shape)[static_cast<size_t>(i)].value);
      continue;
    }
    flush_known();
    Value*& whole = shape_of[src->value];
    if (!whole) {
      const std::string name = src->value->name() + "_shape";
      whole = g.add_value(g.unique_name(name), DataType::kInt64, SymShape{Dim::known(static_cast<int64_t>(src->value->shape->size()))});
      KILN_RETURN_IF_ERROR(insert_replacement(g, shape, "", "Shape", opset, {src->value}, {whole}, {}, name).status());
    }
    Tensor axis = *Tensor::allocate(DataType::kInt64, {1});
    axis.data_as<int64_t>()[0] = src->axis;
    Value* dim = g.add_value(g.unique_name(out->name() + "_dim"), DataType::kInt64, SymShape{Dim::known(1)});
    KILN_RETURN_IF_ERROR(insert_replacement(g, shape, "", "Gather", opset,
                                            {whole, g.add_constant(g.unique_name(out->name() + "_axis"), std::move(axis))}, {dim}, from)
                             .status());
    parts.push_back(dim);
  }
  flush_known();
  Value* rebuilt = parts.front();
  if (parts.size() > 1) {
    rebuilt = g.add_value(g.unique_name(out->name() + "_rebuilt"), DataType::kInt64, SymShape{Dim::known(e - b)});
    KILN_ASSIGN_OR_RETURN(Node * concat, insert_replacement(g, shape, "", "Concat", opset, parts, {rebuilt}, from));
    concat->attrs.set_int("axis", 0);
  }
  g.replace_all_uses(out, rebuilt);
  return true;
}

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
      if (is_op(gather, "Shape")) {
        KILN_ASSIGN_OR_RETURN(const bool rebuilt, rebuild_shape(g, gather, first, shape_of));
        changed |= rebuilt;
        continue;
      }
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
