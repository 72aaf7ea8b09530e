// kiln's matrix products on cuBLASLt, for the CUDA backend's MatMul, Gemm and kiln.FusedMatMul
// kernels. Row-major, as ONNX and kiln lay tensors out:
//
//   D[b] = act(alpha · op(A[b]) @ op(B[b]) + bias + beta · C[b])      b = 0 .. batch-1
//
// op(A) is [M, K] (A is stored [K, M] when trans_a), op(B) is [K, N] (B stored [N, K] when
// trans_b), D and C are [M, N], bias is a vector of N elements added to every row. This is the
// order cuBLASLt applies them in: C is added before the activation. So beta·C is Gemm's full-size
// C, or kiln.FusedMatMul's residual Z when the activation is its post_activation (beta = 1, C = Z,
// and D may be C itself for an in-place add); a residual between two activations needs a
// pointwise kernel after the product.
//
// cuBLASLt is column-major; a row-major [r, c] matrix with row stride ld is the column-major
// [c, r] matrix with the same ld, so D^T = op(B)^T op(A)^T is computed with B as cuBLASLt's "A"
// and A as its "B" (no copies, no transposes). Bias, along N, is then along the rows of cuBLASLt's
// D, which is what its bias epilogue broadcasts.
//
// Use: a MatmulPlan is made once per MatmulDesc (the cuBLASLt descriptors and one algorithm),
// either from cuBLASLt's heuristic (create_matmul_plan), by timing the heuristic's first few
// candidates on the device (tune_matmul), or from an AlgoRecord a timing cache kept (replayed
// without timing, checked with cublasLtMatmulAlgoCheck). run_matmul then only launches: it
// allocates no host or device memory (as CUDA graph capture needs), and a plan is read-only, so
// threads may share it, each with its own cublasLt handle (one handle per thread and device is the
// safe default; the caller owns handles and passes them in).
//
// Every function returns a kiln::Status / Result whose message names the product (matmul_key)
// and the failing cuBLASLt or CUDA call with its status name.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/libs/launch_timing.h"
#include "kiln/dtype.h"
#include "kiln/status.h"

namespace kiln {
enum class Activation;  // core/activation.h
}

namespace kiln::cuda {

// A row stride (ld) or batch stride of MatmulDesc that is the packed one.
inline constexpr int64_t kPacked = -1;

// cuBLAS's recommended workspace for Hopper: algorithms that split K keep their partial sums
// there, and the heuristic only offers those whose workspace fits.
inline constexpr size_t kDefaultMatmulWorkspaceBytes = size_t{32} << 20;

// The workspace pointer's alignment run_matmul requires (cudaMalloc's).
inline constexpr size_t kMatmulWorkspaceAlignment = 256;

// How products are accumulated. float16/bfloat16 inputs always multiply on tensor cores and
// accumulate in fp32 (kFloat32); for float32 inputs kFloat32 is IEEE fp32 throughout and kTf32
// lets cuBLASLt round the inputs to TF32 (10-bit mantissa) for the tensor cores.
enum class MatmulCompute { kFloat32, kTf32 };

// The activations cuBLASLt's epilogues compute. kGelu is cuBLASLt's GELU epilogue, which NVIDIA
// does not specify further; it is taken to be the tanh form (see matmul_activation_for).
enum class MatmulActivation { kNone, kRelu, kGelu };

struct MatmulDesc {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;  // A is stored [K, M]
  bool trans_b = false;  // B is stored [N, K]
  // Row strides in elements (kPacked: the row length as stored: K or M for A, N or K for B, N for
  // C and D). C and D share one layout.
  int64_t lda = kPacked, ldb = kPacked, ldd = kPacked;
  // Matrices per operand; consecutive ones are batch_stride_* elements apart (kPacked: one whole
  // matrix after the other; 0: the same A or B for every batch, numpy's broadcast of a missing
  // batch dim). D cannot be broadcast.
  int64_t batch = 1;
  int64_t batch_stride_a = kPacked, batch_stride_b = kPacked, batch_stride_d = kPacked;

  // A and B have input_dtype, C, D and bias output_dtype: float32 → float32, float16 → float16
  // or float32, bfloat16 → bfloat16 or float32.
  DataType input_dtype = DataType::kFloat32;
  DataType output_dtype = DataType::kFloat32;
  MatmulCompute compute = MatmulCompute::kFloat32;

  float alpha = 1.0f;
  float beta = 0.0f;  // ≠ 0: C is read (see the file comment)
  bool bias = false;
  MatmulActivation activation = MatmulActivation::kNone;

  // The alignment in bytes (a power of two, at least one element, at most 256) that every
  // operand pointer given to run_matmul has: A, B, C, D and bias; batch strides must be
  // multiples of it too, so that every matrix of a batch has it. Row strides need not be
  // (cuBLASLt sees them in its layouts). cuBLASLt picks faster kernels for larger alignments;
  // run_matmul refuses pointers less aligned than promised.
  int alignment = 16;
};

// Whether cuBLASLt can compute `desc`, and why not: sizes ≥ 1, strides that fit the sizes, a
// dtype pair cuBLASLt has, TF32 only for float32.
Status validate_matmul_desc(const MatmulDesc& desc);

// `desc` with every kPacked replaced by the stride it stands for.
MatmulDesc resolve_strides(const MatmulDesc& desc);

// Elements each operand spans in memory from its pointer (batches and row strides included):
// what the caller must allocate.
struct MatmulExtents {
  int64_t a = 0, b = 0, d = 0, bias = 0;
};
MatmulExtents matmul_extents(const MatmulDesc& desc);

// Everything about `desc` that decides which algorithms apply and how fast they are (not alpha
// or beta's value): the key under which a timing cache stores the chosen algorithm. One token
// without spaces: for BERT's FFN up-projection with a [N, K] weight,
// "m128.n3072.k768.b1.nt.ld768,768,3072.s0,0,0.f16>f16.f32.bias.gelu.al16" (M N K, batch,
// transposes, lda ldb ldd, batch strides, dtypes, compute, epilogue, ".c" when C is read,
// alignment).
std::string matmul_key(const MatmulDesc& desc);

// The epilogue activation for a kiln activation, or kNone with `*fits` false when cuBLASLt has
// none that computes it (the caller then runs the activation as a separate kernel). Relu and
// Clip(0, +inf) map to kRelu, GeluTanh to kGelu; Gelu (erf) maps to kGelu only when
// `accept_tanh_gelu` (their largest difference is 4.7e-4, at x ≈ ±2.7: below float16's rounding
// of the result there, not below float32's).
MatmulActivation matmul_activation_for(Activation a, float alpha, float beta, bool accept_tanh_gelu,
                                       bool* fits);

// The version of the libcublasLt that is loaded (major·10000 + minor·100 + patch).
size_t cublaslt_version();

// A chosen algorithm as a timing cache stores it. `algo` is cublasLtMatmulAlgo_t's bytes, which
// are only meaningful to the cuBLASLt version that produced them (and the GPU: the cache's key
// must name the device too).
struct AlgoRecord {
  std::string key;  // matmul_key of the desc it was chosen for
  size_t cublaslt_version = 0;
  std::array<uint64_t, 8> algo{};
  size_t workspace_bytes = 0;  // what the algorithm needs
  float median_ms = -1.0f;     // its measured time; -1 when it was not timed
};

// One line of text (no newline): "kiln-cublaslt-algo/1 key=... cublaslt=... algo=<128 hex
// digits> workspace=... median_ms=... check=<FNV-1a 64 of everything before it>".
std::string serialize_algo_record(const AlgoRecord& record);
// The record serialize_algo_record wrote; a damaged line (a changed character, a missing field,
// another format) is a kCorrupt error saying what is wrong.
Result<AlgoRecord> parse_algo_record(const std::string& line);

class MatmulPlan;
Result<MatmulPlan> create_matmul_plan(cublasLtHandle_t handle, const MatmulDesc& desc,
                                      size_t max_workspace_bytes = kDefaultMatmulWorkspaceBytes);

// A plan without an algorithm: only the cuBLASLt descriptors, which need neither a GPU nor a
// handle. For inspecting how a desc maps onto cuBLASLt (the unit tests check the column-major
// mapping with it everywhere); run_matmul refuses it.
Result<MatmulPlan> describe_matmul(const MatmulDesc& desc);

// A product's cuBLASLt descriptors and algorithm. Read-only once made; movable, not copyable.
class MatmulPlan {
 public:
  MatmulPlan(MatmulPlan&& other) noexcept;
  MatmulPlan& operator=(MatmulPlan&& other) noexcept;
  MatmulPlan(const MatmulPlan&) = delete;
  MatmulPlan& operator=(const MatmulPlan&) = delete;
  ~MatmulPlan();

  // The desc with its strides resolved.
  const MatmulDesc& desc() const { return desc_; }
  const std::string& key() const { return key_; }
  // The workspace run_matmul needs (0 for many algorithms).
  size_t workspace_bytes() const { return workspace_bytes_; }
  const cublasLtMatmulAlgo_t& algo() const { return algo_; }
  // False for describe_matmul's plans.
  bool has_algo() const { return has_algo_; }
  // The algorithm as a timing cache stores it (median_ms -1: the plan does not know its time).
  AlgoRecord record() const;

  // The cuBLASLt objects. cuBLASLt's A layout describes kiln's B, its B layout kiln's A; C and D
  // share lt_layout_d.
  cublasLtMatmulDesc_t operation() const { return operation_; }
  cublasLtMatrixLayout_t lt_layout_a() const { return layout_a_; }
  cublasLtMatrixLayout_t lt_layout_b() const { return layout_b_; }
  cublasLtMatrixLayout_t lt_layout_d() const { return layout_d_; }

 private:
  MatmulPlan() = default;
  void release();

  friend struct MatmulPlanAccess;  // the .cpp builds plans

  MatmulDesc desc_;
  std::string key_;
  cublasLtMatmulDesc_t operation_ = nullptr;
  cublasLtMatrixLayout_t layout_a_ = nullptr, layout_b_ = nullptr, layout_d_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  bool has_algo_ = false;
  size_t workspace_bytes_ = 0;
};

// The plan for `record`'s algorithm, without timing: refused with a sentence when the record is
// for another desc (kInvalidArgument), another cuBLASLt version (kIncompatible), when
// cublasLtMatmulAlgoCheck rejects the algorithm for this desc and device, or when it needs more
// than `max_workspace_bytes` (kIncompatible).
Result<MatmulPlan> create_matmul_plan(cublasLtHandle_t handle, const MatmulDesc& desc,
                                      const AlgoRecord& record,
                                      size_t max_workspace_bytes = kDefaultMatmulWorkspaceBytes);

// Device pointers of one product. `c` is read only when beta ≠ 0 and may equal `d` (in place);
// `bias` only when desc.bias. Each must be aligned to desc.alignment.
struct MatmulOperands {
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;
  void* d = nullptr;
  const void* bias = nullptr;
};

// Enqueues the product on `stream`. `workspace` must hold plan.workspace_bytes() (it may be
// null when that is 0), be 256-byte aligned, and not be used by another product running at the
// same time.
Status run_matmul(cublasLtHandle_t handle, const MatmulPlan& plan, const MatmulOperands& operands,
                  void* workspace, size_t workspace_bytes, cudaStream_t stream);

// Times run_matmul: `warmup_runs` untimed, then `timed_runs` launched back to back, each between
// two CUDA events; the median and the fastest in milliseconds. Synchronizes `stream`.
using MatmulTiming = LaunchTiming;  // launch_timing.h
Result<MatmulTiming> time_matmul(cublasLtHandle_t handle, const MatmulPlan& plan,
                                 const MatmulOperands& operands, void* workspace,
                                 size_t workspace_bytes, cudaStream_t stream, int warmup_runs,
                                 int timed_runs);

struct TuneOptions {
  int candidates = 8;  // the heuristic's first N algorithms
  int warmup_runs = 5;
  int timed_runs = 20;
  size_t max_workspace_bytes = kDefaultMatmulWorkspaceBytes;
};

// One candidate's outcome. `rank` is its place in the heuristic's order (0: what
// create_matmul_plan would have picked).
struct CandidateTiming {
  int rank = 0;
  AlgoRecord record;  // median_ms is the measured time, -1 when it failed
  std::string error;  // why it could not be timed; empty when it was
};

struct TuneResult {
  MatmulPlan plan;    // the fastest candidate
  AlgoRecord record;  // its record, with its median time
  std::vector<CandidateTiming> candidates;
  int chosen = 0;  // index into candidates
};

// Times the heuristic's first options.candidates algorithms for `desc` on scratch device
// buffers it allocates (random values, so that timings reflect real data; the outputs are not
// checked) and returns the fastest. Runs on `stream` and synchronizes it; the device memory it
// takes is A, B, D (and a separate C when beta ≠ 0, so the timed runs do not accumulate), bias
// and the largest candidate's workspace. Fails only when no candidate runs.
Result<TuneResult> tune_matmul(cublasLtHandle_t handle, const MatmulDesc& desc,
                               const TuneOptions& options, cudaStream_t stream);

// A cublasLt handle destroyed with its owner.
class CublasLtHandle {
 public:
  CublasLtHandle() = default;
  CublasLtHandle(CublasLtHandle&& other) noexcept : handle_(other.handle_) {
    other.handle_ = nullptr;
  }
  CublasLtHandle& operator=(CublasLtHandle&& other) noexcept;
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;
  ~CublasLtHandle();

  // A handle for the current device (cublasLtCreate needs one).
  static Result<CublasLtHandle> create();
  cublasLtHandle_t get() const { return handle_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

}  // namespace kiln::cuda
