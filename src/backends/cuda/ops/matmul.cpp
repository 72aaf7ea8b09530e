// MatMul, Gemm and kiln.FusedMatMul on cuBLASLt (libs/cublaslt_matmul.h), float32 (exact fp32
// products), float16 and bfloat16 (fp32 accumulation).
//
//   Y = post_activation(activation(alpha · op(A) @ op(B) + bias) + Z)
//
// cuBLASLt computes D = epilogue(alpha · op(A) @ op(B) + bias + beta · C): without Z the
// activation is the epilogue (post_activation must be none); with Z, C = Z (beta 1), the
// activation must be none and post_activation is the epilogue. An activation no epilogue computes
// exactly (erf GELU, Tanh, ...) runs after the product as kiln's unary kernel, in place. Gemm's C is the bias when it is a
// row of N (beta 1), else cuBLASLt's C with beta. Shapes taken, decided at build time from the
// node's (symbolic) shapes since a device layer cannot fall back at run time: A [..., M, K] with a
// 2-D B (A's batch dims become rows of one taller product), or A and B of one rank with the same
// batch dims (a batched product). Everything else runs the reference on the host.
//
// Build-time tuning (ops/tuning.h): pack times cuBLASLt's first heuristic candidates for the
// product at each profile's opt shapes (or replays the timing cache's choice) and keeps the
// fastest of each distinct product as an AlgoRecord in Node::backend_data; a run whose product is
// one of those (matmul_key: shapes, dtypes, epilogue, alignment) replays its record after
// cublasLtMatmulAlgoCheck, any other gets the heuristic's.
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

#include "backends/cuda/kernels/common.h"
#include "backends/cuda/kernels/pointwise.h"
#include "backends/cuda/libs/cublaslt_matmul.h"
#include "backends/cuda/cuda_device.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "backends/cuda/ops/tuning.h"
#include "backends/timing_cache.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

namespace {

enum class Flavor { kMatMul, kGemm, kFused };

// Node::backend_data's list of tuned AlgoRecords, one per product; engines from before every
// profile was tuned hold one as a string under kOldAlgoRecordKey.
constexpr const char* kAlgoRecordsKey = "cublaslt_algos";
constexpr const char* kOldAlgoRecordKey = "cublaslt_algo";

struct Attrs {
  bool trans_a = false, trans_b = false;
  float alpha = 1.f, beta = 1.f;
  MatmulActivation epilogue = MatmulActivation::kNone;
  bool z_input = false;     // FusedMatMul's Z: beta = 1, C = Z
  bool c_is_bias = false;   // Gemm's C (or FusedMatMul's bias) is a row of N
  bool c_is_full = false;   // Gemm's C is [M, N]
  bool tf32 = false;        // float32 inputs may be rounded to TF32 (the node's precision says "tf32")
  // An activation no cuBLASLt epilogue computes exactly (erf GELU, Tanh, ...): applied by kiln's
  // unary kernel in place on D after the product (with its bias or residual) is written.
  std::optional<ActivationAttr> after;
};

// The cuBLASLt epilogue for a kiln activation, if there is one that computes it exactly enough:
// for float16/bfloat16 outputs erf GELU takes cuBLASLt's tanh-form GELU, whose difference is below
// their rounding (matmul_activation_for); float32 keeps the exact erf as a separate kernel.
bool epilogue_for(const ActivationAttr& a, DataType t, MatmulActivation* out) {
  bool fits = false;
  *out = matmul_activation_for(a.kind, a.alpha, a.beta, /*accept_tanh_gelu=*/t != DataType::kFloat32, &fits);
  return fits;
}

bool same_dims(const MaybeShape& a, const MaybeShape& b) {
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    const Dim& x = (*a)[i];
    const Dim& y = (*b)[i];
    if (x.is_known() != y.is_known() || (x.is_known() ? x.value != y.value : (x.symbol.empty() || x.symbol != y.symbol))) return false;
  }
  return true;
}

// A row of N: rank 1 (or leading 1s) whose last dim is B's N.
bool is_row(const Value* v, const Dim& n) {
  if (!v || !v->shape || v->shape->empty()) return false;
  for (size_t i = 0; i + 1 < v->shape->size(); ++i) {
    if (!((*v->shape)[i].is_known() && (*v->shape)[i].value == 1)) return false;
  }
  const Dim& last = v->shape->back();
  return last.is_known() && n.is_known() && last.value == n.value;
}

// Reads the node into Attrs; false when cuBLASLt cannot compute it as this kernel maps it.
bool read_attrs(const Node& n, Flavor f, Attrs* m) {
  const Value* a = n.input(0);
  const Value* b = n.input(1);
  const Value* y = n.output(0);
  if (!a || !b || !y || !a->shape || !b->shape || !y->shape) return false;
  const DataType t = a->dtype;
  if (!is_kernel_float(t) || b->dtype != t || y->dtype != t) return false;
  for (size_t i = 2; i < n.num_inputs(); ++i) {
    if (n.input(i) && n.input(i)->dtype != t) return false;
  }
  const size_t ra = a->shape->size(), rb = b->shape->size();
  if (ra < 2 || rb < 2) return false;
  if (f == Flavor::kGemm) {
    m->trans_a = n.attrs.get_int("transA", 0) != 0;
    m->trans_b = n.attrs.get_int("transB", 0) != 0;
    m->alpha = n.attrs.get_float("alpha", 1.f);
    m->beta = n.attrs.get_float("beta", 1.f);
  } else if (f == Flavor::kFused) {
    m->trans_a = n.attrs.get_int("trans_a", 0) == 1;
    m->trans_b = n.attrs.get_int("trans_b", 0) == 1;
    m->alpha = n.attrs.get_float("alpha", 1.f);
  }
  // Batch dims: none on B (A's become rows; not with a transposed A), or the same on both.
  if (rb == 2) {
    if (m->trans_a && ra > 2) return false;
  } else if (ra != rb || !same_dims(MaybeShape(SymShape(a->shape->begin(), a->shape->end() - 2)),
                                    MaybeShape(SymShape(b->shape->begin(), b->shape->end() - 2)))) {
    return false;
  }
  const Dim& ndim = (*b->shape)[m->trans_b ? rb - 2 : rb - 1];
  const Dim& kdim = (*b->shape)[m->trans_b ? rb - 1 : rb - 2];
  if (kdim.is_known() && kdim.value == 0) return false;  // a sum over nothing: the reference's
  const Value* bias = f != Flavor::kMatMul && n.num_inputs() > 2 ? n.input(2) : nullptr;
  const Value* z = f == Flavor::kFused && n.num_inputs() > 3 ? n.input(3) : nullptr;
  if (f == Flavor::kGemm && bias) {
    if (is_row(bias, ndim) && m->beta == 1.f) m->c_is_bias = true;
    else if (same_dims(bias->shape, y->shape)) m->c_is_full = true;
    else return false;
  }
  if (f == Flavor::kFused) {
    auto act = read_activation_attr(n.attrs, "activation");
    auto post = read_activation_attr(n.attrs, "post_activation");
    if (!act.ok() || !post.ok()) return false;
    if (bias) {
      if (!is_row(bias, ndim)) return false;
      m->c_is_bias = true;
    }
    if (z) {
      if (!same_dims(z->shape, y->shape) || act->kind != Activation::kNone) return false;
      m->z_input = true;
      if (!epilogue_for(*post, t, &m->epilogue)) {
        m->epilogue = MatmulActivation::kNone;
        m->after = *post;
      }
      return true;
    }
    if (post->kind != Activation::kNone) return false;
    if (!epilogue_for(*act, t, &m->epilogue)) {
      m->epilogue = MatmulActivation::kNone;
      m->after = *act;
    }
    return true;
  }
  return true;
}

// The calling thread's cuBLASLt handle and workspace (cuBLASLt's advice: one handle per thread).
struct ThreadResources {
  CublasLtHandle handle;
  void* workspace = nullptr;
  ~ThreadResources() {
    if (workspace) cudaFree(workspace);
  }
};

Result<ThreadResources*> thread_resources() {
  thread_local ThreadResources r;
  if (!r.handle.get()) {
    KILN_ASSIGN_OR_RETURN(r.handle, CublasLtHandle::create());
    if (cudaMalloc(&r.workspace, kDefaultMatmulWorkspaceBytes) != cudaSuccess) {
      r.workspace = nullptr;
      return out_of_memory("cannot allocate cuBLASLt's workspace on the GPU");
    }
  }
  return &r;
}

int alignment_of(std::initializer_list<uintptr_t> values) {
  int a = 16;
  for (uintptr_t v : values) {
    while (a > 1 && v % static_cast<uintptr_t>(a) != 0) a /= 2;
  }
  return a;
}

// The product of A and B of these dims, and Y's dims (`out`), with C as bias (a row) or as full
// C, or Z, as the node says and as given (`has_c`, `has_z`); alignment left for the caller (it
// depends on where the operands are). What a run and build-time tuning both plan for.
Result<MatmulDesc> product_desc(const Attrs& at, DataType dtype, const Dims& a, const Dims& b, bool has_c, bool has_z, Dims* out) {
  const size_t ra = a.size(), rb = b.size();
  const int64_t k = a[at.trans_a ? ra - 2 : ra - 1];
  const int64_t n = b[at.trans_b ? rb - 2 : rb - 1];
  const int64_t kb = b[at.trans_b ? rb - 1 : rb - 2];
  if (k != kb) return invalid_argument(fmt::format("A has K = {}, B has {}", k, kb));
  *out = Dims(a.begin(), a.end() - 2);
  const int64_t m = a[at.trans_a ? ra - 1 : ra - 2];
  out->push_back(m);
  out->push_back(n);
  MatmulDesc d;
  d.input_dtype = d.output_dtype = dtype;
  d.trans_a = at.trans_a;
  d.trans_b = at.trans_b;
  d.n = n;
  d.k = k;
  if (rb == 2) {
    d.m = n != 0 ? element_count(*out) / n : 0;  // A's batch dims as rows
  } else {
    d.m = m;
    d.batch = m != 0 && n != 0 ? element_count(*out) / (m * n) : 0;
  }
  d.compute = at.tf32 && dtype == DataType::kFloat32 ? MatmulCompute::kTf32 : MatmulCompute::kFloat32;
  d.alpha = at.alpha;
  d.activation = at.epilogue;
  d.bias = at.c_is_bias && has_c;
  const bool c_full = at.z_input ? has_z : (at.c_is_full && has_c);
  d.beta = c_full ? (at.z_input ? 1.f : at.beta) : 0.f;
  return d;
}

// The alignment the matrices' sizes allow (each matrix of a batch starts that far from the last).
int size_alignment(const MatmulDesc& d) {
  const auto es = static_cast<uintptr_t>(dtype_size(d.input_dtype));
  return alignment_of({static_cast<uintptr_t>(d.m * d.k) * es, static_cast<uintptr_t>(d.k * d.n) * es,
                       static_cast<uintptr_t>(d.m * d.n) * es});
}

class MatmulKernel final : public Kernel {
 public:
  MatmulKernel(Flavor f, Attrs m, const Node& n) : flavor_(f), m_(m) {
    // A damaged record is as good as none: the heuristic plans for its product instead.
    for (const std::string& line : tuned_record_lines(n.backend_data, kAlgoRecordsKey, kOldAlgoRecordKey)) {
      auto record = parse_algo_record(line);
      if (!record.ok()) continue;
      tuned_keys_.push_back(record->key);
      tuned_.push_back(std::move(*record));
    }
  }

  Status run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = flavor_ != Flavor::kMatMul && ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* z = m_.z_input ? ctx.input(3) : nullptr;
    Dims out;
    auto desc = product_desc(m_, a->dtype(), a->shape(), b->shape(), c != nullptr, z != nullptr, &out);
    if (!desc.ok()) return ctx.error(desc.status().message());
    MatmulDesc& d = *desc;
    const int64_t k = d.k;
    KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), out));
    if (y->numel() == 0) return ok_status();
    const Tensor* c_full = m_.z_input ? z : (m_.c_is_full ? c : nullptr);
    if (k == 0) {
      // An empty sum (K became 0 at run time): zeros, unless more than the product is asked for.
      if (flavor_ != Flavor::kMatMul) return ctx.error("an empty product (K = 0) with bias, residual or activation is not taken on the GPU");
      return launch_status(ctx, cudaMemsetAsync(y->data(), 0, y->nbytes(), stream_of(ctx)));
    }
    const size_t es = dtype_size(a->dtype());
    auto addr = [](const Tensor* t) { return t ? reinterpret_cast<uintptr_t>(t->data()) : 0; };
    d.alignment = std::max<int>(static_cast<int>(es),
                                std::min(size_alignment(d), alignment_of({addr(a), addr(b), addr(y), addr(c), addr(z)})));
    KILN_ASSIGN_OR_RETURN(ThreadResources * r, thread_resources());
    KILN_ASSIGN_OR_RETURN(const MatmulPlan* plan, plan_for(r->handle.get(), d));
    MatmulOperands ops;
    ops.a = a->data();
    ops.b = b->data();
    ops.c = c_full ? c_full->data() : nullptr;
    ops.d = y->data();
    ops.bias = d.bias ? c->data() : nullptr;
    Status s = run_matmul(r->handle.get(), *plan, ops, r->workspace, kDefaultMatmulWorkspaceBytes, stream_of(ctx));
    if (!s.ok()) return ctx.error(s.message());
    if (!m_.after) return s;
    const UnaryOp op = unary_op_for_activation<UnaryOp>(m_.after->kind, m_.after->alpha, m_.after->beta);
    return launch_status(ctx, unary(op, y->data(), y->data(), y->dtype(), y->numel(), stream_of(ctx)));
  }

 private:
  // One plan per product (its key): made on first use under the mutex, then shared read-only.
  Result<const MatmulPlan*> plan_for(cublasLtHandle_t handle, const MatmulDesc& d) const {
    const std::string key = matmul_key(d);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      std::unique_ptr<MatmulPlan> plan;
      // The build-time choice for this product, unless cuBLASLt no longer takes it (another
      // version, cublasLtMatmulAlgoCheck refuses it): then the heuristic's, as for other products.
      if (auto i = tuned_record_for(tuned_keys_, key)) {
        auto replayed = create_matmul_plan(handle, d, tuned_[*i]);
        if (replayed.ok()) {
          plan = std::make_unique<MatmulPlan>(std::move(*replayed));
          ++tuning_counters().records_replayed;
        }
      }
      if (!plan) {
        ++tuning_counters().heuristic_plans;
        KILN_ASSIGN_OR_RETURN(MatmulPlan p, create_matmul_plan(handle, d));
        plan = std::make_unique<MatmulPlan>(std::move(p));
      }
      it = plans_.emplace(key, std::move(plan)).first;
    }
    return it->second.get();
  }

  Flavor flavor_;
  Attrs m_;
  std::vector<AlgoRecord> tuned_;       // chosen at build time (pack_product), one per product
  std::vector<std::string> tuned_keys_;  // their keys, in the same order
  mutable std::mutex mu_;
  mutable std::map<std::string, std::unique_ptr<MatmulPlan>> plans_;
};

// "algo 23 tile 18 stages 8 split-k 2": which cuBLASLt kernel a plan runs, for `kiln inspect`.
std::string algo_text(const cublasLtMatmulAlgo_t& algo) {
  int32_t id = -1, split_k = 1;
  uint32_t tile = 0, stages = 0;
  size_t written = 0;
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &written);
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split_k, sizeof(split_k), &written);
  std::string s = fmt::format("algo {} tile {} stages {}", id, tile, stages);
  if (split_k > 1) s += fmt::format(" split-k {}", split_k);
  return s;
}

// The product tuned at one profile's opt shapes, aligned as pack assumes; none when the shapes
// are not known at build time or the run handles the product without cuBLASLt (empty, K = 0).
std::optional<MatmulDesc> build_desc(Flavor f, const Node& n, const Attrs& at, const BuildShapes& shapes) {
  auto as = shapes.find(n.input(0));
  auto bs = shapes.find(n.input(1));
  if (as == shapes.end() || bs == shapes.end() || as->second.size() < 2 || bs->second.size() < 2) return std::nullopt;
  const bool has_c = f != Flavor::kMatMul && n.num_inputs() > 2 && n.input(2);
  Dims out;
  auto desc = product_desc(at, n.input(0)->dtype, as->second, bs->second, has_c, at.z_input, &out);
  if (!desc.ok() || element_count(out) == 0 || desc->k == 0) return std::nullopt;
  MatmulDesc& d = *desc;
  d.alignment = std::max<int>(static_cast<int>(dtype_size(d.input_dtype)), size_alignment(d));
  if (!validate_matmul_desc(d).ok()) return std::nullopt;
  return d;
}

// KernelEntry::pack: for each distinct product the profiles' opt shapes give, times cuBLASLt's
// first heuristic candidates on scratch buffers (operands assumed 16-byte aligned, as the device
// arenas and cudaMalloc'd constants are), or replays the timing cache's choice, and keeps the
// records. Nothing when tuning is off or no profile's shapes are known at build time.
Result<Attributes> pack_product(Flavor f, const Node& n, const std::vector<BuildShapes>& profiles, BuildContext& build) {
  if (!build.tune) return Attributes();
  Attrs at;
  if (!read_attrs(n, f, &at)) return Attributes();
  at.tf32 = n.precision == "tf32";
  // The products to tune, each once (two profiles may give the same one), with A's dims for words.
  std::vector<std::pair<MatmulDesc, Dims>> problems;
  std::vector<std::string> keys;
  for (const BuildShapes* shapes : profiles_with_distinct_inputs(n, profiles)) {
    auto d = build_desc(f, n, at, *shapes);
    if (!d) continue;
    std::string key = matmul_key(*d);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    keys.push_back(std::move(key));
    problems.emplace_back(*d, shapes->at(n.input(0)));
  }
  if (problems.empty()) return Attributes();

  LayerTuning tuning(build, n, problems.size());
  KILN_ASSIGN_OR_RETURN(ThreadResources * r, thread_resources());
  const std::string device =
      fmt::format("{} cuBLASLt {}", gpu_identity(), library_version_text(static_cast<int64_t>(cublaslt_version())));
  std::vector<std::string> lines, words;
  for (size_t i = 0; i < problems.size(); ++i) {
    const MatmulDesc& d = problems[i].first;
    tuning.start(i);
    const std::string problem = "matmul rowmajor " + keys[i];
    std::unique_ptr<MatmulPlan> plan;
    AlgoRecord record;
    bool from_cache = false;
    // A cache entry that no longer replays (damaged, refused by cublasLtMatmulAlgoCheck) is timed
    // again and replaced.
    if (const TimingCache::Entry* e = build.timing_cache ? build.timing_cache->find(device, problem) : nullptr) {
      auto cached = parse_algo_record(e->record);
      if (cached.ok()) {
        auto replayed = create_matmul_plan(r->handle.get(), d, *cached);
        if (replayed.ok()) {
          plan = std::make_unique<MatmulPlan>(std::move(*replayed));
          record = *cached;
          from_cache = true;
        }
      }
    }
    if (!from_cache) {
      ++tuning_counters().layers_timed;
      auto tuned = tune_matmul(r->handle.get(), d, TuneOptions{}, /*stream=*/nullptr);
      if (!tuned.ok()) {
        return Status(tuned.status().code(), fmt::format("{}: tuning its product at {}: {}", n.describe(),
                                                         fmt::join(problems[i].second, "x"), tuned.status().message()));
      }
      record = tuned->record;
      plan = std::make_unique<MatmulPlan>(std::move(tuned->plan));
      if (build.timing_cache) build.timing_cache->put(device, problem, {serialize_algo_record(record), record.median_ms});
    }
    tuning.finished(from_cache);
    lines.push_back(serialize_algo_record(record));
    words.push_back(tuned_choice_text("cublasLt " + algo_text(plan->algo()), record.median_ms, problems[i].second));
  }
  Attributes data;
  set_tuned_record_lines(data, kAlgoRecordsKey, std::move(lines));
  data.set_string(kTuningChoiceKey, join_tuned_choices(words));
  return data;
}

KernelEntry entry(Flavor f, const char* op, const char* name, const std::string& domain = "") {
  KernelEntry e;
  e.domain = domain;
  e.op_type = op;
  e.name = name;
  e.supports = [f](const Node& n) {
    Attrs m;
    return read_attrs(n, f, &m);
  };
  // float32 products may run on TF32 tensor cores unless the build said --no-tf32.
  e.computes_in = [](const Node& n, const std::string& precision) {
    return precision == "tf32" && n.input(0) && n.input(0)->dtype == DataType::kFloat32;
  };
  e.create = [f](const Node& n) -> Result<std::unique_ptr<Kernel>> {
    Attrs m;
    if (!read_attrs(n, f, &m)) return invalid_argument(n.describe() + ": the cuda product kernel cannot take this node");
    m.tf32 = n.precision == "tf32";
    return std::unique_ptr<Kernel>(std::make_unique<MatmulKernel>(f, m, n));
  };
  e.pack = [f](const Node& n, const std::vector<BuildShapes>& profiles, BuildContext& build) {
    return pack_product(f, n, profiles, build);
  };
  return e;
}

}  // namespace

std::vector<KernelEntry> matmul_entries() {
  return {entry(Flavor::kMatMul, "MatMul", "cublaslt_matmul"), entry(Flavor::kGemm, "Gemm", "cublaslt_gemm"),
          entry(Flavor::kFused, "FusedMatMul", "cublaslt_fused_matmul", kKilnDomain)};
}

}  // namespace kiln::cuda
