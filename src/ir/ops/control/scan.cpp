// Scan. Opset 9+: inputs (state..., scan_input...), the body maps (state..., slice...) to
// (state..., scan_output_element...); each scan input is sliced along scan_input_axes[i] (in
// reverse when scan_input_directions[i] is 1) and each scan output stacked along
// scan_output_axes[j]. Opset 8: a first optional sequence_lens input, every input and output
// has a leading batch axis, and the scan axis is the one after it.
#include "fmt/format.h"
#include "ir/ops/control/control_ops.h"
#include "ir/ops/control/subgraph_infer.h"
#include "ir/ops/infer_util.h"

namespace kiln {

namespace {

// Drops `axis` from a shape (nullopt stays nullopt).
MaybeShape drop_axis(const MaybeShape& s, size_t axis) {
  if (!s || axis >= s->size()) return std::nullopt;
  SymShape out = *s;
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
  return out;
}

// Keeps the first known dim of the candidates (or the first symbol).
Dim pick_dim(const std::vector<Dim>& ds) {
  for (const Dim& d : ds) {
    if (d.is_known()) return d;
  }
  for (const Dim& d : ds) {
    if (!d.symbol.empty()) return d;
  }
  return Dim::unknown();
}

Status infer_scan(InferenceContext& ctx) {
  KILN_RETURN_IF_ERROR(check_inputs_defined(ctx));
  auto body_r = ctx.attrs().require_graph("body");
  if (!body_r.ok()) return ctx.error(body_r.status().message());
  const Graph& body = **body_r;
  auto m_r = ctx.attrs().require_int("num_scan_inputs");
  if (!m_r.ok()) return ctx.error(m_r.status().message());
  const int64_t m_attr = *m_r;
  const bool v8 = ctx.opset() < 9;
  const size_t first = v8 ? 1 : 0;  // opset 8's sequence_lens
  if (m_attr < 1 || static_cast<size_t>(m_attr) + first > ctx.num_inputs()) {
    return ctx.error(fmt::format("num_scan_inputs is {} but the node has {} inputs", m_attr, ctx.num_inputs()));
  }
  const size_t m = static_cast<size_t>(m_attr);
  const size_t n = ctx.num_inputs() - first - m;
  if (ctx.num_outputs() < n) return ctx.error(fmt::format("{} state inputs but only {} outputs", n, ctx.num_outputs()));
  const size_t k = ctx.num_outputs() - n;
  if (body.inputs().size() != n + m || body.outputs().size() != n + k) {
    return ctx.error(fmt::format("the body takes {} inputs and gives {} outputs, expected {} and {}",
                                 body.inputs().size(), body.outputs().size(), n + m, n + k));
  }
  for (size_t i = first; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is empty", i));
  }

  std::vector<int64_t> in_axes(m, 0), out_axes(k, 0);
  if (!v8) {
    in_axes = ctx.attrs().get_ints("scan_input_axes", in_axes);
    out_axes = ctx.attrs().get_ints("scan_output_axes", out_axes);
    const auto in_dirs = ctx.attrs().get_ints("scan_input_directions", std::vector<int64_t>(m, 0));
    const auto out_dirs = ctx.attrs().get_ints("scan_output_directions", std::vector<int64_t>(k, 0));
    if (in_axes.size() != m || in_dirs.size() != m) {
      return ctx.error(fmt::format("scan_input_axes/directions need {} values", m));
    }
    if (out_axes.size() != k || out_dirs.size() != k) {
      return ctx.error(fmt::format("scan_output_axes/directions need {} values", k));
    }
    for (int64_t d : in_dirs) {
      if (d != 0 && d != 1) return ctx.error(fmt::format("scan_input_directions holds {}, expected 0 or 1", d));
    }
    for (int64_t d : out_dirs) {
      if (d != 0 && d != 1) return ctx.error(fmt::format("scan_output_directions holds {}, expected 0 or 1", d));
    }
  } else {
    const auto dirs = ctx.attrs().get_ints("directions", std::vector<int64_t>(m, 0));
    if (dirs.size() != m) return ctx.error(fmt::format("directions needs {} values", m));
    if (ctx.has_input(0) && ctx.input_dtype(0) != DataType::kUndefined && ctx.input_dtype(0) != DataType::kInt32) {
      return ctx.error(fmt::format("input 0 'sequence_lens' has dtype {}, expected int32", dtype_name(ctx.input_dtype(0))));
    }
  }

  // Body input states; collect the candidates for the batch (opset 8) and sequence dims.
  std::vector<ValueState> ins(n + m);
  std::vector<Dim> batch_dims, seq_dims;
  for (size_t i = 0; i < n; ++i) {
    const size_t in = first + i;
    ins[i].dtype = ctx.input_dtype(in);
    ins[i].shape = v8 ? drop_axis(ctx.input_shape(in), 0) : ctx.input_shape(in);
    if (v8 && ctx.input_shape(in) && !ctx.input_shape(in)->empty()) batch_dims.push_back((*ctx.input_shape(in))[0]);
  }
  for (size_t j = 0; j < m; ++j) {
    const size_t in = first + n + j;
    const MaybeShape& s = ctx.input_shape(in);
    ins[n + j].dtype = ctx.input_dtype(in);
    if (!s) continue;
    const int64_t r = static_cast<int64_t>(s->size());
    if (v8) {
      if (r < 2) return ctx.error(fmt::format("scan input {} has shape {}, expected [batch, sequence, ...]", j, shape_to_string(s)));
      batch_dims.push_back((*s)[0]);
      seq_dims.push_back((*s)[1]);
      ins[n + j].shape = drop_axis(drop_axis(s, 0), 0);
    } else {
      KILN_ASSIGN_OR_RETURN(int64_t a, normalize_axis(ctx, in_axes[j], r));
      if (r == 0) return ctx.error(fmt::format("scan input {} is a scalar", j));
      seq_dims.push_back((*s)[static_cast<size_t>(a)]);
      ins[n + j].shape = drop_axis(s, static_cast<size_t>(a));
    }
  }
  for (size_t a = 0; a < seq_dims.size(); ++a) {
    for (size_t b = a + 1; b < seq_dims.size(); ++b) {
      if (seq_dims[a].is_known() && seq_dims[b].is_known() && seq_dims[a].value != seq_dims[b].value) {
        return ctx.error(fmt::format("scan inputs have sequence lengths {} and {}", seq_dims[a].value, seq_dims[b].value));
      }
    }
  }
  const Dim seq = pick_dim(seq_dims);
  const Dim batch = pick_dim(batch_dims);

  std::vector<ValueState> outs;
  for (int round = 0; round < 4; ++round) {
    KILN_ASSIGN_OR_RETURN(outs, infer_body(ctx, body, ins));
    if (outs.size() != n + k) return ctx.error("the body's inference gave the wrong number of outputs");
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      MaybeShape mg = merge_shape(ins[i].shape, outs[i].shape);
      if (mg != ins[i].shape) {
        ins[i].shape = mg;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (size_t i = 0; i < n; ++i) {
    const DataType t = ins[i].dtype != DataType::kUndefined ? ins[i].dtype : outs[i].dtype;
    MaybeShape s = ins[i].shape;
    if (v8 && s) s->insert(s->begin(), batch);
    ctx.set_output(i, t, s);
  }
  for (size_t j = 0; j < k; ++j) {
    const ValueState& o = outs[n + j];
    MaybeShape s;
    if (o.shape) {
      SymShape sh = *o.shape;
      if (v8) {
        sh.insert(sh.begin(), seq);
        sh.insert(sh.begin(), batch);
      } else {
        const int64_t r = static_cast<int64_t>(sh.size()) + 1;
        int64_t a = out_axes[j];
        if (a < -r || a >= r) return ctx.error(fmt::format("scan_output_axes[{}] is {}, out of range for rank {}", j, a, r));
        if (a < 0) a += r;
        sh.insert(sh.begin() + a, seq);
      }
      s = sh;
    }
    ctx.set_output(n + j, o.dtype, s);
  }
  return ok_status();
}

}  // namespace

void register_scan(OpRegistry& r) {
  OpSchema s;
  s.op_type = "Scan";
  s.since_version = 8;
  s.min_inputs = 1;
  s.max_inputs = OpSchema::kUnbounded;
  s.min_outputs = 1;
  s.max_outputs = OpSchema::kUnbounded;
  s.infer = infer_scan;
  r.add(std::move(s));
}

}  // namespace kiln
