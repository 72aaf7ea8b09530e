// Scan (see src/ir/ops/control/scan.cpp for the two forms). Opset 9+ runs the body once per
// position of the scan axis; opset 8 does that per batch entry, for sequence_lens[b] positions
// (scan outputs stay zero past that length).
#include "backends/reference/kernels/control/control_kernels.h"
#include "backends/reference/kernels/control/subgraph_util.h"
#include "fmt/format.h"

namespace kiln {

namespace {

Status scan_v9(KernelContext& ctx, const Graph& body, size_t n, size_t m, size_t k) {
  const auto in_axes = ctx.attrs().get_ints("scan_input_axes", std::vector<int64_t>(m, 0));
  const auto in_dirs = ctx.attrs().get_ints("scan_input_directions", std::vector<int64_t>(m, 0));
  const auto out_axes = ctx.attrs().get_ints("scan_output_axes", std::vector<int64_t>(k, 0));
  const auto out_dirs = ctx.attrs().get_ints("scan_output_directions", std::vector<int64_t>(k, 0));
  if (in_axes.size() != m || in_dirs.size() != m || out_axes.size() != k || out_dirs.size() != k) {
    return ctx.error("scan_input_*/scan_output_* attributes do not match the number of scan inputs/outputs");
  }
  std::vector<int64_t> axes(m);
  int64_t len = -1;
  for (size_t j = 0; j < m; ++j) {
    const Tensor& t = *ctx.input(n + j);
    const int64_t r = t.rank();
    int64_t a = in_axes[j];
    if (r == 0 || a < -r || a >= r) return ctx.error(fmt::format("scan_input_axes[{}] is {}, out of range for {}", j, a, t.describe()));
    if (a < 0) a += r;
    axes[j] = a;
    if (len >= 0 && t.dim(a) != len) {
      return ctx.error(fmt::format("scan input {} has {} positions along its scan axis, others {}", j, t.dim(a), len));
    }
    len = t.dim(a);
  }
  std::vector<Tensor> state;
  for (size_t i = 0; i < n; ++i) state.push_back(*ctx.input(i));
  std::vector<std::vector<Tensor>> scans(k);
  for (int64_t t = 0; t < len; ++t) {
    std::vector<Tensor> in = state;
    for (size_t j = 0; j < m; ++j) {
      KILN_ASSIGN_OR_RETURN(Tensor s, take_slice(*ctx.input(n + j), axes[j], in_dirs[j] ? len - 1 - t : t));
      in.push_back(std::move(s));
    }
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph(body, in));
    if (outs.size() != n + k) return ctx.error(fmt::format("the body gave {} outputs, expected {}", outs.size(), n + k));
    for (size_t i = 0; i < n; ++i) state[i] = outs[i];
    for (size_t j = 0; j < k; ++j) scans[j].push_back(outs[n + j]);
  }
  for (size_t i = 0; i < n; ++i) KILN_RETURN_IF_ERROR(output_copy(ctx, i, state[i]));
  for (size_t j = 0; j < k; ++j) {
    DataType dt;
    Dims ed;
    declared_output(body, n + j, dt, ed);
    KILN_RETURN_IF_ERROR(output_stack(ctx, n + j, scans[j], out_axes[j], out_dirs[j] != 0, dt, ed, len));
  }
  return ok_status();
}

Status scan_v8(KernelContext& ctx, const Graph& body, size_t n, size_t m, size_t k) {
  const auto dirs = ctx.attrs().get_ints("directions", std::vector<int64_t>(m, 0));
  if (dirs.size() != m) return ctx.error(fmt::format("directions has {} values, expected {}", dirs.size(), m));
  int64_t batch = -1, len = -1;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Tensor& t = *ctx.input(i);
    const bool scanned = i >= 1 + n;
    if (t.rank() < (scanned ? 2 : 1)) return ctx.error(fmt::format("input {} is {}, expected a batch axis{}", i, t.describe(), scanned ? " and a sequence axis" : ""));
    if (batch >= 0 && t.dim(0) != batch) return ctx.error(fmt::format("input {} has batch {}, others {}", i, t.dim(0), batch));
    batch = t.dim(0);
    if (scanned) {
      if (len >= 0 && t.dim(1) != len) return ctx.error(fmt::format("input {} has sequence length {}, others {}", i, t.dim(1), len));
      len = t.dim(1);
    }
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), len);
  if (const Tensor* sl = ctx.input(0)) {
    if (sl->dtype() != DataType::kInt32 || sl->numel() != batch) {
      return ctx.error(fmt::format("input 0 'sequence_lens' is {}, expected int32[{}]", sl->describe(), batch));
    }
    for (int64_t b = 0; b < batch; ++b) {
      const int32_t v = sl->data_as<int32_t>()[b];
      if (v < 0 || v > len) return ctx.error(fmt::format("sequence_lens[{}] is {}, outside [0, {}]", b, v, len));
      lens[static_cast<size_t>(b)] = v;
    }
  }
  std::vector<std::vector<Tensor>> final_states(n);  // per state, per batch
  std::vector<std::vector<Tensor>> scan_rows(k);     // per scan output, per batch: [len, ...]
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> state;
    for (size_t i = 0; i < n; ++i) {
      KILN_ASSIGN_OR_RETURN(Tensor s, take_slice(*ctx.input(1 + i), 0, b));
      state.push_back(std::move(s));
    }
    std::vector<Tensor> seqs;
    for (size_t j = 0; j < m; ++j) {
      KILN_ASSIGN_OR_RETURN(Tensor s, take_slice(*ctx.input(1 + n + j), 0, b));
      seqs.push_back(std::move(s));
    }
    const int64_t bl = lens[static_cast<size_t>(b)];
    std::vector<std::vector<Tensor>> parts(k);
    for (int64_t t = 0; t < bl; ++t) {
      std::vector<Tensor> in = state;
      for (size_t j = 0; j < m; ++j) {
        KILN_ASSIGN_OR_RETURN(Tensor s, take_slice(seqs[j], 0, dirs[j] ? bl - 1 - t : t));
        in.push_back(std::move(s));
      }
      KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, ctx.run_subgraph(body, in));
      if (outs.size() != n + k) return ctx.error(fmt::format("the body gave {} outputs, expected {}", outs.size(), n + k));
      for (size_t i = 0; i < n; ++i) state[i] = outs[i];
      for (size_t j = 0; j < k; ++j) parts[j].push_back(outs[n + j]);
    }
    for (size_t i = 0; i < n; ++i) final_states[i].push_back(state[i]);
    for (size_t j = 0; j < k; ++j) scan_rows[j].push_back(Tensor());
    // Stack this batch entry's parts into [len, ...] through a scratch tensor.
    for (size_t j = 0; j < k; ++j) {
      if (parts[j].empty()) continue;
      Dims d = parts[j][0].shape();
      d.insert(d.begin(), len);
      KILN_ASSIGN_OR_RETURN(Tensor row, Tensor::allocate(parts[j][0].dtype(), d));
      const size_t bytes = parts[j][0].nbytes();
      for (size_t t = 0; t < parts[j].size(); ++t) {
        if (parts[j][t].dtype() != row.dtype() || parts[j][t].nbytes() != bytes) {
          return ctx.error(fmt::format("scan output {} changes shape between iterations", j));
        }
        if (bytes > 0) std::memcpy(static_cast<uint8_t*>(row.data()) + t * bytes, parts[j][t].data(), bytes);
      }
      scan_rows[j].back() = row;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    DataType dt = ctx.input(1 + i)->dtype();
    Dims ed(ctx.input(1 + i)->shape().begin() + 1, ctx.input(1 + i)->shape().end());
    KILN_RETURN_IF_ERROR(output_stack(ctx, i, final_states[i], 0, false, dt, ed, batch));
  }
  for (size_t j = 0; j < k; ++j) {
    // Rows of batch entries that ran zero steps are zeros of the others' shape.
    DataType dt;
    Dims ed;
    declared_output(body, n + j, dt, ed);
    const Tensor* model = nullptr;
    for (const Tensor& r : scan_rows[j]) {
      if (r.defined()) model = &r;
    }
    Dims rd = ed;
    rd.insert(rd.begin(), len);
    if (model) {
      dt = model->dtype();
      rd = model->shape();
    }
    for (Tensor& r : scan_rows[j]) {
      if (!r.defined()) {
        KILN_ASSIGN_OR_RETURN(r, Tensor::allocate(dt, rd));
      }
    }
    KILN_RETURN_IF_ERROR(output_stack(ctx, n + j, scan_rows[j], 0, false, dt, rd, batch));
  }
  return ok_status();
}

}  // namespace

Status ref_scan(KernelContext& ctx) {
  auto body_r = ctx.attrs().require_graph("body");
  if (!body_r.ok()) return ctx.error(body_r.status().message());
  const Graph& body = **body_r;
  const int64_t m_attr = ctx.attrs().get_int("num_scan_inputs", 0);
  const bool v8 = ctx.node().opset < 9;
  const size_t first = v8 ? 1 : 0;
  if (m_attr < 1 || static_cast<size_t>(m_attr) + first > ctx.num_inputs()) {
    return ctx.error(fmt::format("num_scan_inputs is {} but the node has {} inputs", m_attr, ctx.num_inputs()));
  }
  const size_t m = static_cast<size_t>(m_attr);
  const size_t n = ctx.num_inputs() - first - m;
  if (ctx.num_outputs() < n) return ctx.error("fewer outputs than state variables");
  const size_t k = ctx.num_outputs() - n;
  for (size_t i = first; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is empty", i));
  }
  return v8 ? scan_v8(ctx, body, n, m, k) : scan_v9(ctx, body, n, m, k);
}

}  // namespace kiln
