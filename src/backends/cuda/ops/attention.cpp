// kiln.Attention (docs/fused_ops.md) on kernels/attention.h for dense Q [B, Sq, H·Dh],
// K [B, Sk, H·Dh], V [B, Sk, H·Dv] of one dtype (float32, float16, bfloat16), with or without an
// additive mask of rank <= 4 broadcasting to [B, H, Sq, Sk] (padding masks [B, 1, 1, Sk], full
// [B, H, Sq, Sk], 2-D [Sq, Sk]) and causal masking. The kernel picks its tensor-core path (fp16/
// bf16, head dims multiples of 8 up to 256, aligned rows) or its fp32-arithmetic one itself.
// With qkv_packed = 1, Q, K and V are read in place from the one QKV [B, S, 3E] through its row
// stride 3E (packed_qkv_attention_problem): no Split, no copy. float64 and shapes inference
// cannot rank run the reference.
//
// Build-time tuning: where the tensor-core kernel runs, its tile shape (64 or 128 query rows a
// CTA) is timed at each profile's opt shapes and the faster kept (Node::backend_data, the timing
// cache); a run at a tuned problem uses it, other shapes the kernel's own pick.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/libs/launch_timing.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "backends/cuda/ops/tuning.h"
#include "backends/timing_cache.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

namespace {

bool supported(const Node& n) {
  if (n.num_inputs() < 1 || n.num_inputs() > 4 || n.num_outputs() != 1 || !n.output(0)) return false;
  const int64_t packed = n.attrs.get_int("qkv_packed", 0);
  if (packed != 0 && packed != 1) return false;
  // Separate: Q, K, V of rank 3. Packed: QKV of rank 3 alone, K and V absent.
  const size_t tensors = packed == 1 ? 1 : 3;
  for (size_t i = 0; i < 3; ++i) {
    if (i >= tensors) {
      if (n.input(i)) return false;
    } else if (!n.input(i) || known_rank(n.input(i)) != std::optional<size_t>(3)) {
      return false;
    }
  }
  if (n.input(3) && !rank_at_most(n.input(3), 4)) return false;
  if (!is_kernel_float(n.input(0)->dtype) || !node_float_types(n)) return false;
  const Attribute* heads = n.attrs.find("num_heads");
  if (!heads || heads->kind != Attribute::Kind::kInt || heads->i < 1) return false;
  const int64_t causal = n.attrs.get_int("causal", 0);
  if (causal != 0 && causal != 1) return false;
  const Attribute* scale = n.attrs.find("scale");
  return !scale || scale->kind == Attribute::Kind::kFloat;
}

// Node::backend_data's list of tuned tile shapes, one line per problem: "<rows> <problem key>".
constexpr const char* kTileRecordsKey = "attention_tiles";

// What a tile choice is made for: everything the kernel's speed depends on (the dtype, sizes, the
// layout of Q/K/V rows, how the mask is read, causal).
std::string tile_problem_key(const AttentionProblem& p, DataType dtype) {
  const char* mask = !p.mask ? "none" : (p.mask_strides[2] == 0 ? "per-key" : "per-row");
  return fmt::format("{} b{} h{} sq{} sk{} d{} dv{} rows {},{},{} mask {}{}", dtype_name(dtype), p.batch, p.heads, p.seq_q,
                     p.seq_k, p.head_dim, p.value_dim, p.q_row_stride, p.k_row_stride, p.v_row_stride, mask,
                     p.causal ? " causal" : "");
}

class AttentionKernel final : public Kernel {
 public:
  explicit AttentionKernel(const Node& n)
      : heads_(n.attrs.get_int("num_heads", 1)),
        causal_(n.attrs.get_int("causal", 0) == 1),
        packed_(n.attrs.get_int("qkv_packed", 0) == 1),
        has_scale_(n.attrs.has("scale")),
        scale_(n.attrs.get_float("scale", 1.0f)) {
    // A damaged line is as good as none: the kernel picks its tiles itself.
    for (const std::string& line : tuned_record_lines(n.backend_data, kTileRecordsKey, "")) {
      const size_t space = line.find(' ');
      const int rows = space == std::string::npos ? 0 : std::atoi(line.substr(0, space).c_str());
      if (rows != 64 && rows != 128) continue;
      tuned_rows_.push_back(rows);
      tuned_keys_.push_back(line.substr(space + 1));
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* mask = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    KILN_ASSIGN_OR_RETURN(AttentionProblem p, packed_ ? packed_problem(ctx) : separate_problem(ctx));
    const Tensor* first = ctx.input(0);
    if (mask && mask->dtype() != first->dtype()) {
      return ctx.error(fmt::format("input 3 'mask' {} is not of input 0's dtype", mask->describe()));
    }
    if (mask) {
      const int64_t scores[4] = {p.batch, p.heads, p.seq_q, p.seq_k};
      if (!attention_mask_strides(mask->shape(), scores, p.mask_strides)) {
        return ctx.error(fmt::format("input 3 'mask' {} does not broadcast to the scores [B, H, Sq, Sk] = {}", mask->describe(),
                                     dims_to_string({p.batch, p.heads, p.seq_q, p.seq_k})));
      }
      p.mask = mask->data();
    }
    set_scale(p);
    if (!tuned_keys_.empty()) {
      if (auto i = tuned_record_for(tuned_keys_, tile_problem_key(p, first->dtype()))) p.block_rows = tuned_rows_[*i];
    }
    return launch_status(ctx, attention(p, first->dtype(), stream_of(ctx)));
  }

  // The scale and causal flag of this node's problems. The default scale as the reference has
  // it: 1/sqrt(Dh) in double, here rounded to float once.
  void set_scale(AttentionProblem& p) const {
    const int64_t Dh = p.head_dim;
    p.scale = has_scale_ ? scale_ : static_cast<float>(Dh > 0 ? 1.0 / std::sqrt(static_cast<double>(Dh)) : 1.0);
    p.causal = causal_;
  }

 private:
  Result<AttentionProblem> separate_problem(KernelContext& ctx) const {
    const Tensor* q = ctx.input(0);
    const Tensor* k = ctx.num_inputs() > 1 ? ctx.input(1) : nullptr;
    const Tensor* v = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    if (!q || !k || !v) return ctx.error("inputs 0 'Q', 1 'K' and 2 'V' are required");
    if (q->rank() != 3 || k->rank() != 3 || v->rank() != 3) {
      return ctx.error(fmt::format("Q {}, K {} and V {} must have rank 3", q->describe(), k->describe(), v->describe()));
    }
    const int64_t B = q->dim(0), Sq = q->dim(1), E = q->dim(2), Sk = k->dim(1), Ev = v->dim(2), H = heads_;
    if (k->dim(0) != B || v->dim(0) != B || v->dim(1) != Sk || k->dim(2) != E) {
      return ctx.error(fmt::format("Q {}, K {} and V {} disagree (expected [B, Sq, H*Dh], [B, Sk, H*Dh], [B, Sk, H*Dv])", q->describe(),
                                   k->describe(), v->describe()));
    }
    if (E % H != 0 || Ev % H != 0) {
      return ctx.error(
          fmt::format("the hidden sizes of Q {} and V {} must be divisible by num_heads {}", q->describe(), v->describe(), H));
    }
    for (const Tensor* t : {k, v}) {
      if (t->dtype() != q->dtype()) return ctx.error(fmt::format("input {} is not of Q's dtype", t->describe()));
    }
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, q->dtype(), {B, Sq, Ev}));
    return dense_attention_problem(q->data(), k->data(), v->data(), y->data(), B, H, Sq, Sk, E / H, Ev / H);
  }

  // qkv_packed = 1: Q, K, V are columns [0, E), [E, 2E), [2E, 3E) of QKV [B, S, 3E].
  Result<AttentionProblem> packed_problem(KernelContext& ctx) const {
    const Tensor* qkv = ctx.input(0);
    if (!qkv) return ctx.error("input 0 'QKV' is required");
    for (size_t i : {size_t{1}, size_t{2}}) {
      if (i < ctx.num_inputs() && ctx.input(i)) {
        return ctx.error(fmt::format("input {} must be absent with qkv_packed = 1 (Q, K and V are column ranges of input 0 'QKV')", i));
      }
    }
    if (qkv->rank() != 3 || qkv->dim(2) % 3 != 0 || (qkv->dim(2) / 3) % heads_ != 0) {
      return ctx.error(fmt::format("input 0 'QKV' {} must be [B, S, 3E] with E divisible by num_heads {} (qkv_packed = 1)",
                                   qkv->describe(), heads_));
    }
    const int64_t B = qkv->dim(0), S = qkv->dim(1), E = qkv->dim(2) / 3;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, qkv->dtype(), {B, S, E}));
    return packed_qkv_attention_problem(qkv->data(), y->data(), qkv->dtype(), B, heads_, S, E / heads_);
  }

  int64_t heads_;
  bool causal_;
  bool packed_;  // qkv_packed = 1
  bool has_scale_;
  float scale_;
  std::vector<int> tuned_rows_;          // tile rows chosen at build time, one per problem
  std::vector<std::string> tuned_keys_;  // their problems (tile_problem_key), in the same order
};

// Device memory for timing, freed with it.
using DeviceBuffer = std::unique_ptr<void, void (*)(void*)>;
DeviceBuffer device_zeros(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, std::max<size_t>(bytes, 1)) != cudaSuccess || cudaMemset(p, 0, std::max<size_t>(bytes, 1)) != cudaSuccess) {
    cudaGetLastError();
    if (p) cudaFree(p);
    p = nullptr;
  }
  return DeviceBuffer(p, [](void* q) {
    if (q) cudaFree(q);
  });
}

// KernelEntry::pack: for each distinct problem the profiles' opt shapes give that runs the
// tensor-core kernel, times its tile shapes (64 and 128 query rows a CTA) on zeroed scratch
// buffers, or replays the timing cache's choice, and keeps the faster. Nothing when tuning is off,
// the shapes are unknown or the problem runs the fp32 kernel (which has no tiles to choose);
// scratch memory the GPU cannot spare leaves the choice to the kernel.
Result<Attributes> pack_attention(const Node& n, const std::vector<BuildShapes>& profiles, BuildContext& build) {
  if (!build.tune || !supported(n)) return Attributes();
  const bool packed = n.attrs.get_int("qkv_packed", 0) == 1;
  const int64_t H = n.attrs.get_int("num_heads", 1);
  const DataType dt = n.input(0)->dtype;
  const size_t es = dtype_size(dt);
  struct Problem {
    Dims q, k, v, mask;  // k, v empty when packed
  };
  std::vector<Problem> problems;
  for (const BuildShapes* shapes : profiles_with_distinct_inputs(n, profiles)) {
    Problem pr;
    bool known = true;
    for (size_t i = 0; i < 4; ++i) {
      if (i >= n.num_inputs() || !n.input(i)) continue;
      auto it = shapes->find(n.input(i));
      if (it == shapes->end()) {
        known = false;
        break;
      }
      (i == 0 ? pr.q : i == 1 ? pr.k : i == 2 ? pr.v : pr.mask) = it->second;
    }
    if (known && pr.q.size() == 3) problems.push_back(std::move(pr));
  }
  AttentionKernel kernel(n);
  std::vector<std::string> lines, words;
  std::unique_ptr<LayerTuning> tuning;
  const std::string device = gpu_identity() + " kiln attention";
  for (size_t i = 0; i < problems.size(); ++i) {
    const Problem& pr = problems[i];
    // Scratch operands of the problem's sizes, and the problem on them as a run would set it.
    const int64_t B = pr.q[0], Sq = pr.q[1];
    const int64_t Sk = packed ? Sq : (pr.k.size() == 3 ? pr.k[1] : -1);
    const int64_t E = packed ? pr.q[2] / 3 : pr.q[2], Ev = packed ? E : (pr.v.size() == 3 ? pr.v[2] : -1);
    if (B <= 0 || Sq <= 0 || Sk <= 0 || E <= 0 || Ev <= 0 || E % H != 0 || Ev % H != 0) continue;
    if (packed && pr.q[2] % 3 != 0) continue;
    DeviceBuffer q = device_zeros(static_cast<size_t>(element_count(pr.q)) * es);
    DeviceBuffer k = packed ? device_zeros(0) : device_zeros(static_cast<size_t>(element_count(pr.k)) * es);
    DeviceBuffer v = packed ? device_zeros(0) : device_zeros(static_cast<size_t>(element_count(pr.v)) * es);
    DeviceBuffer y = device_zeros(static_cast<size_t>(B * Sq * Ev) * es);
    DeviceBuffer m = device_zeros(pr.mask.empty() ? 0 : static_cast<size_t>(element_count(pr.mask)) * es);
    if (!q || !k || !v || !y || !m) continue;
    AttentionProblem p = packed ? packed_qkv_attention_problem(q.get(), y.get(), dt, B, H, Sq, E / H)
                                : dense_attention_problem(q.get(), k.get(), v.get(), y.get(), B, H, Sq, Sk, E / H, Ev / H);
    if (!pr.mask.empty()) {
      const int64_t scores[4] = {B, H, Sq, Sk};
      if (!attention_mask_strides(pr.mask, scores, p.mask_strides)) continue;
      p.mask = m.get();
    }
    kernel.set_scale(p);
    if (!attention_uses_tensor_cores(p, dt)) continue;
    const std::string key = tile_problem_key(p, dt);
    if (!tuning) tuning = std::make_unique<LayerTuning>(build, n, problems.size());
    tuning->start(i);
    const std::string problem = "attention " + key;
    int rows = 0;
    double ms = -1;
    bool from_cache = false;
    if (const TimingCache::Entry* e = build.timing_cache ? build.timing_cache->find(device, problem) : nullptr) {
      const int cached = std::atoi(e->record.c_str());
      if (cached == 64 || cached == 128) {
        rows = cached;
        ms = e->ms;
        from_cache = true;
      }
    }
    if (!from_cache) {
      ++tuning_counters().layers_timed;
      double times[2] = {0, 0};
      const int candidates[2] = {64, 128};
      for (int c = 0; c < 2; ++c) {
        p.block_rows = candidates[c];
        const std::string what = fmt::format("{}: timing its attention tiles", n.describe());
        auto launch = [&]() -> Status {
          const cudaError_t e = attention(p, dt, /*stream=*/nullptr);
          return e == cudaSuccess ? ok_status() : internal_error(fmt::format("{}: {}", what, cudaGetErrorString(e)));
        };
        KILN_ASSIGN_OR_RETURN(LaunchTiming t, time_launches(launch, /*stream=*/nullptr, 3, 20, what));
        times[c] = t.median_ms;
      }
      const int best = times[1] < times[0] ? 1 : 0;
      rows = candidates[best];
      ms = times[best];
      if (build.timing_cache) build.timing_cache->put(device, problem, {std::to_string(rows), ms});
    }
    tuning->finished(from_cache);
    lines.push_back(fmt::format("{} {}", rows, key));
    // Only what the timing cache also gives: a warm rebuild writes the same engine.
    words.push_back(tuned_choice_text(fmt::format("{}-row tiles", rows), ms, pr.q));
  }
  Attributes data;
  if (lines.empty()) return data;
  set_tuned_record_lines(data, kTileRecordsKey, std::move(lines));
  data.set_string(kTuningChoiceKey, join_tuned_choices(words));
  return data;
}

}  // namespace

std::vector<KernelEntry> attention_entries() {
  KernelEntry e = node_entry<AttentionKernel>(kKilnDomain, "Attention", "cuda_attention", supported);
  e.pack = pack_attention;
  return {e};
}

}  // namespace kiln::cuda
