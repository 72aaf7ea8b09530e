// Folds inference-mode BatchNormalization into the op that produces its input. Per channel c the
// BN computes y = x * s[c] + t[c] with s = scale / sqrt(var + epsilon), t = B - mean * s, so:
//   Conv:          W'[c, ...] = W[c, ...] * s[c],             B' = B * s + t
//   ConvTranspose: W'[:, c, ...] scaled (output channel c of its group),  B' = B * s + t
//   Gemm [M, N]:   columns of op(B) scaled,                    C' = beta * C * s + t, beta = 1
//   MatMul [M, N] with a constant [K, N] weight: columns scaled, then Add(t) (fused later)
// The producer must have constant weights and no reader but the BN. Any other BN (inference form,
// input rank known) becomes Mul(s) + Add(t) with [C, 1, ...] constants: cheap pointwise ops that
// later passes fuse. The arithmetic is done in double and stored in the weight's own dtype.
#include <cmath>
#include <optional>

#include "core/dispatch.h"
#include "fmt/format.h"
#include "ir/ops/infer_util.h"
#include "passes/pass.h"
#include "passes/pattern.h"

namespace kiln {

namespace {

// y = x * scale[c] + shift[c] along axis 1.
struct ChannelAffine {
  std::vector<double> scale, shift;
  int64_t channels() const { return static_cast<int64_t>(scale.size()); }
};

// A constant float tensor's elements as doubles, or nothing.
std::optional<std::vector<double>> float_constant(const Value* v) {
  if (!v || !v->constant || !is_float_type(v->constant->dtype())) return std::nullopt;
  auto r = read_doubles(*v->constant);
  if (!r.ok()) return std::nullopt;
  return *r;
}

Result<Tensor> make_tensor(DataType dtype, Dims dims, const std::vector<double>& values) {
  KILN_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, std::move(dims)));
  KILN_RETURN_IF_ERROR(dispatch_float(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(static_cast<compute_t<T>>(values[i]));
    return ok_status();
  }));
  return t;
}

// The per-channel affine map of an inference-mode BatchNormalization with constant parameters.
// Training mode (training_mode=1, or statistics outputs before opset 14) and per-element
// parameters (spatial=0 before opset 9) are left alone.
std::optional<ChannelAffine> batchnorm_affine(const Node* bn) {
  if (!is_op(bn, "BatchNormalization") || bn->num_inputs() != 5 || !bn->input(0) || !bn->output(0)) return std::nullopt;
  for (size_t i = 1; i < bn->num_outputs(); ++i) {
    if (bn->output(i)) return std::nullopt;
  }
  if (bn->opset >= 14 && bn->attrs.get_int("training_mode", 0) != 0) return std::nullopt;
  if (bn->opset < 9 && bn->attrs.get_int("spatial", 1) != 1) return std::nullopt;
  auto scale = float_constant(bn->input(1));
  auto bias = float_constant(bn->input(2));
  auto mean = float_constant(bn->input(3));
  auto var = float_constant(bn->input(4));
  if (!scale || !bias || !mean || !var || scale->empty()) return std::nullopt;
  const size_t c = scale->size();
  if (bias->size() != c || mean->size() != c || var->size() != c) return std::nullopt;
  for (size_t i = 1; i < 5; ++i) {
    if (bn->input(i)->constant->rank() != 1) return std::nullopt;
  }
  // The kernel reads epsilon as a float and computes in double: the same here.
  const double eps = bn->attrs.get_float("epsilon", 1e-5f);
  ChannelAffine a;
  a.scale.resize(c);
  a.shift.resize(c);
  for (size_t i = 0; i < c; ++i) {
    a.scale[i] = (*scale)[i] / std::sqrt((*var)[i] + eps);
    a.shift[i] = (*bias)[i] - (*mean)[i] * a.scale[i];
  }
  return a;
}

class FoldBatchNorm final : public Pass {
 public:
  std::string name() const override { return "fold-batchnorm"; }
  int level() const override { return 2; }
  Result<bool> run(Graph& g) override {
    const GraphUses uses(g);
    std::vector<Node*> bns;
    for (const auto& n : g.nodes()) {
      if (is_op(n.get(), "BatchNormalization")) bns.push_back(n.get());
    }
    bool changed = false;
    for (Node* bn : bns) {
      auto affine = batchnorm_affine(bn);
      if (!affine) continue;
      Value* x = bn->input(0);
      Node* producer = uses.single_use(x) ? x->producer() : nullptr;
      bool done = false;
      if (is_op(producer, "Conv")) {
        KILN_ASSIGN_OR_RETURN(done, fold_into_conv(g, producer, bn, *affine));
      } else if (is_op(producer, "ConvTranspose")) {
        KILN_ASSIGN_OR_RETURN(done, fold_into_conv_transpose(g, producer, bn, *affine));
      } else if (is_op(producer, "Gemm")) {
        KILN_ASSIGN_OR_RETURN(done, fold_into_gemm(g, producer, bn, *affine));
      } else if (is_op(producer, "MatMul")) {
        KILN_ASSIGN_OR_RETURN(done, fold_into_matmul(g, producer, bn, *affine));
      }
      if (!done) {
        KILN_ASSIGN_OR_RETURN(done, to_mul_add(g, bn, *affine));
      }
      changed |= done;
    }
    return changed;
  }

 private:
  // The producer's replacement takes over the BN's output, so readers and graph outputs stay.
  static Result<Node*> replace_pair(Graph& g, Node* producer, Node* bn, std::vector<Value*> inputs) {
    auto n = insert_replacement(g, bn, "", producer->op_type, producer->opset, std::move(inputs), {bn->output(0)},
                                {producer, bn}, producer->name);
    if (!n.ok()) return n.status();
    (*n)->attrs = producer->attrs;
    remove_nodes(g, {bn, producer});
    return *n;
  }

  // B * s + t (B absent: t), in `dtype`.
  static Result<Value*> folded_bias(Graph& g, const Value* b, const ChannelAffine& a, DataType dtype, const std::string& base) {
    std::vector<double> out = a.shift;
    if (b) {
      auto old = float_constant(b);
      if (!old || static_cast<int64_t>(old->size()) != a.channels()) return nullptr;
      for (size_t c = 0; c < out.size(); ++c) out[c] += (*old)[c] * a.scale[c];
    }
    KILN_ASSIGN_OR_RETURN(Tensor t, make_tensor(dtype, {a.channels()}, out));
    return g.add_constant(base + "_bn_folded", std::move(t));
  }

  // W [M, C/group, k...]: output channel m is W's dim 0.
  static Result<bool> fold_into_conv(Graph& g, Node* conv, Node* bn, const ChannelAffine& a) {
    const Value* w = conv->input(1);
    const Value* b = conv->input(2);
    auto wv = float_constant(w);
    if (!wv || w->constant->rank() < 3 || w->constant->dim(0) != a.channels() || (b && !b->constant)) return false;
    const int64_t per_channel = w->constant->numel() / a.channels();
    for (size_t i = 0; i < wv->size(); ++i) (*wv)[i] *= a.scale[i / static_cast<size_t>(per_channel)];
    KILN_ASSIGN_OR_RETURN(Value * bias, folded_bias(g, b, a, w->constant->dtype(), conv->name + "_B"));
    if (!bias) return false;
    KILN_ASSIGN_OR_RETURN(Tensor wt, make_tensor(w->constant->dtype(), w->constant->shape(), *wv));
    Value* new_w = g.add_constant(w->name() + "_bn_folded", std::move(wt));
    const std::vector<Value*> inputs = {conv->input(0), new_w, bias};
    KILN_RETURN_IF_ERROR(replace_pair(g, conv, bn, inputs).status());
    return true;
  }

  // W [C, M/group, k...]: W[ci, j, ...] feeds output channel (ci / (C/group)) * (M/group) + j.
  static Result<bool> fold_into_conv_transpose(Graph& g, Node* ct, Node* bn, const ChannelAffine& a) {
    const Value* w = ct->input(1);
    const Value* b = ct->input(2);
    auto wv = float_constant(w);
    const int64_t group = ct->attrs.get_int("group", 1);
    if (!wv || w->constant->rank() < 3 || group < 1 || (b && !b->constant)) return false;
    const int64_t cin = w->constant->dim(0), m_per_group = w->constant->dim(1);
    if (cin % group != 0 || m_per_group * group != a.channels() || cin == 0 || m_per_group == 0) return false;
    const int64_t inner = w->constant->numel() / (cin * m_per_group);
    const int64_t cin_per_group = cin / group;
    for (size_t i = 0; i < wv->size(); ++i) {
      const int64_t k = static_cast<int64_t>(i) / inner;
      const int64_t ci = k / m_per_group, j = k % m_per_group;
      (*wv)[i] *= a.scale[static_cast<size_t>((ci / cin_per_group) * m_per_group + j)];
    }
    KILN_ASSIGN_OR_RETURN(Value * bias, folded_bias(g, b, a, w->constant->dtype(), ct->name + "_B"));
    if (!bias) return false;
    KILN_ASSIGN_OR_RETURN(Tensor wt, make_tensor(w->constant->dtype(), w->constant->shape(), *wv));
    Value* new_w = g.add_constant(w->name() + "_bn_folded", std::move(wt));
    const std::vector<Value*> inputs = {ct->input(0), new_w, bias};
    KILN_RETURN_IF_ERROR(replace_pair(g, ct, bn, inputs).status());
    return true;
  }

  // Y = alpha * op(A) @ op(B) + beta * C, [M, N]; the BN's channels are N.
  static Result<bool> fold_into_gemm(Graph& g, Node* gemm, Node* bn, const ChannelAffine& a) {
    if (gemm->opset < 7) return false;  // C broadcasts without the 'broadcast' attribute from 7
    const Value* w = gemm->input(1);
    const Value* c = gemm->input(2);
    auto wv = float_constant(w);
    if (!wv || w->constant->rank() != 2 || (c && !c->constant)) return false;
    const bool trans_b = gemm->attrs.get_int("transB", 0) != 0;
    const int64_t rows = w->constant->dim(0), cols = w->constant->dim(1);
    const int64_t n = trans_b ? rows : cols;
    if (n != a.channels()) return false;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < cols; ++k) (*wv)[static_cast<size_t>(r * cols + k)] *= a.scale[static_cast<size_t>(trans_b ? r : k)];
    }
    // C' = beta * C * s + t, broadcast to [N] or, for a C with rows, [rows, N].
    const double beta = gemm->attrs.get_float("beta", 1.0f);
    Dims c_dims{n};
    std::vector<double> cv(static_cast<size_t>(n), 0.0);
    int64_t c_rows = 1, c_cols = 1;
    if (c) {
      auto old = float_constant(c);
      const Dims& d = c->constant->shape();
      if (!old || d.size() > 2) return false;
      c_cols = d.empty() ? 1 : d.back();
      c_rows = d.size() == 2 ? d[0] : 1;
      if (c_cols != 1 && c_cols != n) return false;
      if (d.size() == 2) c_dims = {c_rows, n};
      cv.assign(static_cast<size_t>(c_rows * n), 0.0);
      for (int64_t r = 0; r < c_rows; ++r) {
        for (int64_t k = 0; k < n; ++k) cv[static_cast<size_t>(r * n + k)] = beta * (*old)[static_cast<size_t>(r * c_cols + (c_cols == 1 ? 0 : k))];
      }
    }
    for (size_t i = 0; i < cv.size(); ++i) {
      const size_t k = i % static_cast<size_t>(n);
      cv[i] = cv[i] * a.scale[k] + a.shift[k];
    }
    KILN_ASSIGN_OR_RETURN(Tensor wt, make_tensor(w->constant->dtype(), w->constant->shape(), *wv));
    KILN_ASSIGN_OR_RETURN(Tensor ct, make_tensor(w->constant->dtype(), c_dims, cv));
    Value* new_w = g.add_constant(w->name() + "_bn_folded", std::move(wt));
    Value* new_c = g.add_constant(gemm->name + "_C_bn_folded", std::move(ct));
    const std::vector<Value*> inputs = {gemm->input(0), new_w, new_c};
    KILN_ASSIGN_OR_RETURN(Node * n2, replace_pair(g, gemm, bn, inputs));
    n2->attrs.set_float("beta", 1.0f);
    return true;
  }

  // A [M, K] @ W [K, N] = [M, N]: W's columns scaled, then a new Add of t.
  static Result<bool> fold_into_matmul(Graph& g, Node* mm, Node* bn, const ChannelAffine& a) {
    if (onnx_opset(g) < 7) return false;  // the Add must broadcast
    const Value* w = mm->input(1);
    const Value* out = bn->output(0);
    auto wv = float_constant(w);
    if (!wv || w->constant->rank() != 2 || w->constant->dim(1) != a.channels()) return false;
    if (!mm->output(0)->shape || mm->output(0)->shape->size() != 2) return false;
    const int64_t cols = w->constant->dim(1);
    for (size_t i = 0; i < wv->size(); ++i) (*wv)[i] *= a.scale[i % static_cast<size_t>(cols)];
    KILN_ASSIGN_OR_RETURN(Tensor wt, make_tensor(w->constant->dtype(), w->constant->shape(), *wv));
    KILN_ASSIGN_OR_RETURN(Tensor st, make_tensor(w->constant->dtype(), {cols}, a.shift));
    Value* new_w = g.add_constant(w->name() + "_bn_folded", std::move(wt));
    Value* shift = g.add_constant(bn->name + "_shift", std::move(st));
    Value* product = g.add_value(mm->output(0)->name() + "_scaled", out->dtype, out->shape);
    auto scaled = insert_replacement(g, bn, "", "MatMul", mm->opset, {mm->input(0), new_w}, {product}, {mm}, mm->name);
    if (!scaled.ok()) return scaled.status();
    auto shifted = insert_replacement(g, bn, "", "Add", onnx_opset(g), {product, shift}, {bn->output(0)}, {bn}, bn->name);
    if (!shifted.ok()) return shifted.status();
    remove_nodes(g, {bn, mm});
    return true;
  }

  // x * s + t with s, t shaped [C, 1, ...] to broadcast along axis 1 of x.
  static Result<bool> to_mul_add(Graph& g, Node* bn, const ChannelAffine& a) {
    Value* x = bn->input(0);
    Value* out = bn->output(0);
    if (onnx_opset(g) < 7 || !x->shape || x->shape->size() < 2 || !is_float_type(x->dtype)) return false;
    const Dim& c = (*x->shape)[1];
    if (c.is_known() && c.value != a.channels()) return false;
    Dims dims(x->shape->size() - 1, 1);
    dims[0] = a.channels();
    KILN_ASSIGN_OR_RETURN(Tensor st, make_tensor(x->dtype, dims, a.scale));
    KILN_ASSIGN_OR_RETURN(Tensor tt, make_tensor(x->dtype, dims, a.shift));
    Value* scale = g.add_constant(bn->name + "_scale", std::move(st));
    Value* shift = g.add_constant(bn->name + "_shift", std::move(tt));
    Value* scaled = g.add_value(out->name() + "_scaled", out->dtype, out->shape);
    const int opset = onnx_opset(g);
    auto mul = insert_replacement(g, bn, "", "Mul", opset, {x, scale}, {scaled}, {bn}, bn->name + "_mul");
    if (!mul.ok()) return mul.status();
    auto add = insert_replacement(g, bn, "", "Add", opset, {scaled, shift}, {out}, {bn}, bn->name);
    if (!add.ok()) return add.status();
    g.remove_node(bn);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_batchnorm_pass() { return std::make_unique<FoldBatchNorm>(); }

}  // namespace kiln
