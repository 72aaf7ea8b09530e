// cuBLASLt matrix products (cublaslt_matmul.h): descriptors, plans, the timing tuner and the
// algorithm records of the timing cache.
#include "backends/cuda/libs/cublaslt_matmul.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <system_error>
#include <utility>

#include "core/activation.h"

namespace kiln::cuda {

// Builds plans: the one place that reaches into MatmulPlan.
struct MatmulPlanAccess {
  static MatmulPlan make() { return MatmulPlan(); }
  static MatmulPlan& fill(MatmulPlan& p, const MatmulDesc& desc, std::string key) {
    p.desc_ = desc;
    p.key_ = std::move(key);
    return p;
  }
  static cublasLtMatmulDesc_t& operation(MatmulPlan& p) { return p.operation_; }
  static cublasLtMatrixLayout_t& layout_a(MatmulPlan& p) { return p.layout_a_; }
  static cublasLtMatrixLayout_t& layout_b(MatmulPlan& p) { return p.layout_b_; }
  static cublasLtMatrixLayout_t& layout_d(MatmulPlan& p) { return p.layout_d_; }
  static void set_algo(MatmulPlan& p, const cublasLtMatmulAlgo_t& algo, size_t workspace) {
    p.algo_ = algo;
    p.has_algo_ = true;
    p.workspace_bytes_ = workspace;
  }
};

namespace {

// --- dtypes ------------------------------------------------------------------------------------

bool is_matmul_dtype(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}

int64_t bytes_of(DataType t) { return t == DataType::kFloat32 ? 4 : 2; }

const char* short_name(DataType t) {
  switch (t) {
    case DataType::kFloat32:
      return "f32";
    case DataType::kFloat16:
      return "f16";
    case DataType::kBFloat16:
      return "bf16";
    default:
      return "?";
  }
}

cudaDataType_t cuda_type(DataType t) {
  switch (t) {
    case DataType::kFloat16:
      return CUDA_R_16F;
    case DataType::kBFloat16:
      return CUDA_R_16BF;
    default:
      return CUDA_R_32F;
  }
}

cublasComputeType_t compute_type(const MatmulDesc& d) {
  return d.compute == MatmulCompute::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

cublasLtEpilogue_t epilogue_of(const MatmulDesc& d) {
  switch (d.activation) {
    case MatmulActivation::kNone:
      return d.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    case MatmulActivation::kRelu:
      return d.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case MatmulActivation::kGelu:
      return d.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

// --- errors ------------------------------------------------------------------------------------

Status cublas_error(const std::string& key, const char* call, cublasStatus_t s) {
  std::string m = key + ": " + call + " failed: " + cublasLtGetStatusName(s) + " (" +
                  cublasLtGetStatusString(s) + ")";
  switch (s) {
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return unsupported(std::move(m));
    case CUBLAS_STATUS_ALLOC_FAILED:
      return out_of_memory(std::move(m));
    case CUBLAS_STATUS_INVALID_VALUE:
      return invalid_argument(std::move(m));
    default:
      return internal_error(std::move(m));
  }
}

Status cuda_error(const std::string& key, const char* call, cudaError_t e) {
  std::string m =
      key + ": " + call + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return e == cudaErrorMemoryAllocation ? out_of_memory(std::move(m))
                                        : internal_error(std::move(m));
}

#define KILN_CUBLAS_RETURN_IF_ERROR(key, expr)                \
  do {                                                        \
    const cublasStatus_t kiln_cublas_status_ = (expr);        \
    if (kiln_cublas_status_ != CUBLAS_STATUS_SUCCESS)         \
      return cublas_error((key), #expr, kiln_cublas_status_); \
  } while (0)

#define KILN_CUDART_RETURN_IF_ERROR(key, expr)                                                  \
  do {                                                                                          \
    const cudaError_t kiln_cudart_error_ = (expr);                                              \
    if (kiln_cudart_error_ != cudaSuccess) return cuda_error((key), #expr, kiln_cudart_error_); \
  } while (0)

// --- strides -----------------------------------------------------------------------------------

// Rows and columns of A and B as stored (row-major).
int64_t stored_rows_a(const MatmulDesc& d) { return d.trans_a ? d.k : d.m; }
int64_t stored_cols_a(const MatmulDesc& d) { return d.trans_a ? d.m : d.k; }
int64_t stored_rows_b(const MatmulDesc& d) { return d.trans_b ? d.n : d.k; }
int64_t stored_cols_b(const MatmulDesc& d) { return d.trans_b ? d.k : d.n; }

// Elements from the first to one past the last element of `batch` matrices of `rows` rows of
// `cols` elements, rows `ld` and matrices `stride` apart.
int64_t span(int64_t batch, int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

// --- attributes --------------------------------------------------------------------------------

template <typename T>
cublasStatus_t set_attribute(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr,
                             const T& value) {
  return cublasLtMatmulDescSetAttribute(op, attr, &value, sizeof(value));
}
template <typename T>
cublasStatus_t set_attribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                             const T& value) {
  return cublasLtMatrixLayoutSetAttribute(layout, attr, &value, sizeof(value));
}
template <typename T>
cublasStatus_t set_attribute(cublasLtMatmulPreference_t pref,
                             cublasLtMatmulPreferenceAttributes_t attr, const T& value) {
  return cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value));
}

// Everything of the operation descriptor except its compute and scale types (given when it is
// made). The bias pointer is set per run (run_matmul). For choosing and checking an algorithm
// it is bias_placeholder(d), which is never dereferenced: cuBLASLt's heuristic reads only the
// alignment of its value, and run_matmul holds the real bias to desc.alignment.
Status configure_operation(cublasLtMatmulDesc_t op, const MatmulDesc& d, const std::string& key,
                           const void* bias) {
  // kiln's B is cuBLASLt's A (see the header): its transpose flag is trans_b.
  const int32_t trans_a = d.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int32_t trans_b = d.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS_RETURN_IF_ERROR(key, set_attribute(op, CUBLASLT_MATMUL_DESC_TRANSA, trans_a));
  KILN_CUBLAS_RETURN_IF_ERROR(key, set_attribute(op, CUBLASLT_MATMUL_DESC_TRANSB, trans_b));
  const uint32_t epilogue = epilogue_of(d);
  KILN_CUBLAS_RETURN_IF_ERROR(key, set_attribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue));
  if (d.bias) {
    const int32_t bias_type = cuda_type(d.output_dtype);
    KILN_CUBLAS_RETURN_IF_ERROR(key,
                                set_attribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type));
    KILN_CUBLAS_RETURN_IF_ERROR(key, set_attribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias));
  }
  return ok_status();
}

// A bias "pointer" with exactly desc.alignment's alignment, for the descriptor the algorithm is
// chosen with (the documentation of CUBLASLT_MATMUL_DESC_BIAS_POINTER: routines that do not
// dereference it, like the heuristic, take the expected alignment from its value). Null would
// promise any alignment.
const void* bias_placeholder(const MatmulDesc& d) {
  return reinterpret_cast<const void*>(static_cast<uintptr_t>(d.alignment));
}

// A column-major layout of `batch` matrices.
Status make_layout(cublasLtMatrixLayout_t* layout, DataType t, int64_t rows, int64_t cols,
                   int64_t ld, int64_t batch, int64_t stride, const std::string& key) {
  KILN_CUBLAS_RETURN_IF_ERROR(
      key, cublasLtMatrixLayoutCreate(layout, cuda_type(t), static_cast<uint64_t>(rows),
                                      static_cast<uint64_t>(cols), ld));
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    KILN_CUBLAS_RETURN_IF_ERROR(key,
                                set_attribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, count));
    KILN_CUBLAS_RETURN_IF_ERROR(
        key, set_attribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride));
  }
  return ok_status();
}

// A plan's descriptors, without an algorithm yet. `d` has its strides resolved.
Result<MatmulPlan> make_descriptors(const MatmulDesc& d) {
  KILN_RETURN_IF_ERROR(validate_matmul_desc(d));
  MatmulPlan plan = MatmulPlanAccess::make();
  std::string key = matmul_key(d);
  MatmulPlanAccess::fill(plan, d, key);
  cublasLtMatmulDesc_t& op = MatmulPlanAccess::operation(plan);
  KILN_CUBLAS_RETURN_IF_ERROR(key, cublasLtMatmulDescCreate(&op, compute_type(d), CUDA_R_32F));
  KILN_RETURN_IF_ERROR(configure_operation(op, d, key, bias_placeholder(d)));
  // cuBLASLt's A: kiln's B seen column-major, [stored cols, stored rows].
  KILN_RETURN_IF_ERROR(make_layout(&MatmulPlanAccess::layout_a(plan), d.input_dtype,
                                   stored_cols_b(d), stored_rows_b(d), d.ldb, d.batch,
                                   d.batch_stride_b, key));
  KILN_RETURN_IF_ERROR(make_layout(&MatmulPlanAccess::layout_b(plan), d.input_dtype,
                                   stored_cols_a(d), stored_rows_a(d), d.lda, d.batch,
                                   d.batch_stride_a, key));
  KILN_RETURN_IF_ERROR(make_layout(&MatmulPlanAccess::layout_d(plan), d.output_dtype, d.n, d.m,
                                   d.ldd, d.batch, d.batch_stride_d, key));
  return plan;
}

// The heuristic's first `count` algorithms that it reports as usable, best first.
Result<std::vector<cublasLtMatmulHeuristicResult_t>> heuristic_algos(cublasLtHandle_t handle,
                                                                     MatmulPlan& plan, int count,
                                                                     size_t max_workspace) {
  const std::string& key = plan.key();
  cublasLtMatmulPreference_t pref = nullptr;
  KILN_CUBLAS_RETURN_IF_ERROR(key, cublasLtMatmulPreferenceCreate(&pref));
  struct Destroy {
    cublasLtMatmulPreference_t p;
    ~Destroy() { cublasLtMatmulPreferenceDestroy(p); }
  } destroy{pref};
  const uint64_t workspace = max_workspace;
  KILN_CUBLAS_RETURN_IF_ERROR(
      key, set_attribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, workspace));
  const uint32_t alignment = static_cast<uint32_t>(plan.desc().alignment);
  for (auto attr :
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
    KILN_CUBLAS_RETURN_IF_ERROR(key, set_attribute(pref, attr, alignment));
  }
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(count));
  int returned = 0;
  KILN_CUBLAS_RETURN_IF_ERROR(
      key, cublasLtMatmulAlgoGetHeuristic(
               handle, MatmulPlanAccess::operation(plan), MatmulPlanAccess::layout_a(plan),
               MatmulPlanAccess::layout_b(plan), MatmulPlanAccess::layout_d(plan),
               MatmulPlanAccess::layout_d(plan), pref, count, results.data(), &returned));
  results.resize(static_cast<size_t>(std::max(returned, 0)));
  std::erase_if(results, [&](const cublasLtMatmulHeuristicResult_t& r) {
    return r.state != CUBLAS_STATUS_SUCCESS || r.workspaceSize > max_workspace;
  });
  if (results.empty()) {
    return unsupported(key + ": cuBLASLt has no algorithm for this product within " +
                       std::to_string(max_workspace) + " bytes of workspace");
  }
  return results;
}

bool aligned(const void* p, int64_t alignment) {
  return (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(alignment)) == 0;
}

// --- record text -------------------------------------------------------------------------------

constexpr const char* kRecordFormat = "kiln-cublaslt-algo/1";

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = digits[v & 15];
  return s;
}

bool parse_hex64(std::string_view s, uint64_t* v) {
  if (s.size() != 16) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

template <typename T>
bool parse_number(std::string_view s, T* v) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// --- scratch memory for tuning -----------------------------------------------------------------

struct DeviceMemory {
  void* ptr = nullptr;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
};

// `elements` random values of dtype t with magnitudes in [0.5, 1) and random signs, written as
// bit patterns (sign, the exponent of 0.5, random mantissa) so that no float conversion is
// needed. Random data, not a constant fill: tensor-core power draw, and with it the clock,
// depends on how many bits toggle.
Status fill_random(void* device, DataType t, int64_t elements, uint64_t seed,
                   const std::string& key) {
  std::mt19937_64 rng(seed);
  const size_t n = static_cast<size_t>(elements);
  if (t == DataType::kFloat32) {
    std::vector<uint32_t> host(n);
    for (auto& v : host) {
      const uint64_t r = rng();
      v = static_cast<uint32_t>((r >> 63) << 31) | (126u << 23) |
          static_cast<uint32_t>(r & 0x7fffff);
    }
    KILN_CUDART_RETURN_IF_ERROR(key,
                                cudaMemcpy(device, host.data(), n * 4, cudaMemcpyHostToDevice));
  } else {
    const bool half = t == DataType::kFloat16;
    std::vector<uint16_t> host(n);
    for (auto& v : host) {
      const uint64_t r = rng();
      const uint32_t sign = static_cast<uint32_t>(r >> 63) << 15;
      v = static_cast<uint16_t>(half ? sign | (14u << 10) | (r & 0x3ff)
                                     : sign | (126u << 7) | (r & 0x7f));
    }
    KILN_CUDART_RETURN_IF_ERROR(key,
                                cudaMemcpy(device, host.data(), n * 2, cudaMemcpyHostToDevice));
  }
  return ok_status();
}

Status allocate(DeviceMemory* m, int64_t bytes, const std::string& key) {
  KILN_CUDART_RETURN_IF_ERROR(
      key, cudaMalloc(&m->ptr, static_cast<size_t>(std::max<int64_t>(bytes, 1))));
  return ok_status();
}

}  // namespace

// --- descriptions ------------------------------------------------------------------------------

MatmulDesc resolve_strides(const MatmulDesc& in) {
  MatmulDesc d = in;
  if (d.lda == kPacked) d.lda = stored_cols_a(d);
  if (d.ldb == kPacked) d.ldb = stored_cols_b(d);
  if (d.ldd == kPacked) d.ldd = d.n;
  if (d.batch_stride_a == kPacked) d.batch_stride_a = stored_rows_a(d) * d.lda;
  if (d.batch_stride_b == kPacked) d.batch_stride_b = stored_rows_b(d) * d.ldb;
  if (d.batch_stride_d == kPacked) d.batch_stride_d = d.m * d.ldd;
  // One matrix: its batch stride means nothing, and a fixed value keeps the key stable.
  if (d.batch == 1) d.batch_stride_a = d.batch_stride_b = d.batch_stride_d = 0;
  return d;
}

Status validate_matmul_desc(const MatmulDesc& in) {
  const auto bad = [](const std::string& m) { return invalid_argument("matmul: " + m); };
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (in.m < 1 || in.n < 1 || in.k < 1 || in.batch < 1) {
    return bad("M, N, K and batch must be at least 1 (got M=" + std::to_string(in.m) +
               " N=" + std::to_string(in.n) + " K=" + std::to_string(in.k) +
               " batch=" + std::to_string(in.batch) + ")");
  }
  if (in.m > kMax || in.n > kMax || in.k > kMax || in.batch > kMax) {
    return bad("M, N, K and batch must fit in int32 for cuBLASLt");
  }
  for (int64_t s :
       {in.lda, in.ldb, in.ldd, in.batch_stride_a, in.batch_stride_b, in.batch_stride_d}) {
    if (s < 0 && s != kPacked) return bad("a negative stride other than kPacked");
  }
  const MatmulDesc d = resolve_strides(in);
  if (d.lda < stored_cols_a(d)) {
    return bad("lda " + std::to_string(d.lda) + " is below A's row length " +
               std::to_string(stored_cols_a(d)));
  }
  if (d.ldb < stored_cols_b(d)) {
    return bad("ldb " + std::to_string(d.ldb) + " is below B's row length " +
               std::to_string(stored_cols_b(d)));
  }
  if (d.ldd < d.n) {
    return bad("ldd " + std::to_string(d.ldd) + " is below N " + std::to_string(d.n));
  }
  if (d.batch > 1 && d.batch_stride_d < d.m * d.ldd) {
    return bad("D's batch stride " + std::to_string(d.batch_stride_d) +
               " makes its matrices overlap (at least M·ldd = " + std::to_string(d.m * d.ldd) +
               ")");
  }
  if (!is_matmul_dtype(d.input_dtype) || !is_matmul_dtype(d.output_dtype)) {
    return unsupported("matmul: only float32, float16 and bfloat16 products are supported");
  }
  if (d.input_dtype != d.output_dtype && d.output_dtype != DataType::kFloat32) {
    return unsupported(std::string("matmul: cuBLASLt has no ") + short_name(d.input_dtype) +
                       " product with " + short_name(d.output_dtype) + " output");
  }
  if (d.compute == MatmulCompute::kTf32 && d.input_dtype != DataType::kFloat32) {
    return bad("TF32 applies to float32 inputs only");
  }
  if (!std::isfinite(d.alpha) || !std::isfinite(d.beta))
    return bad("alpha and beta must be finite");
  if (d.alignment < bytes_of(d.input_dtype) || d.alignment < bytes_of(d.output_dtype) ||
      d.alignment > 256 || !std::has_single_bit(static_cast<unsigned>(d.alignment))) {
    return bad("alignment " + std::to_string(d.alignment) +
               " must be a power of two from one element to 256 bytes");
  }
  // Each batch's matrices start at pointer + i·stride: they must keep the promised alignment.
  if (d.batch > 1) {
    const int64_t in_bytes = bytes_of(d.input_dtype), out_bytes = bytes_of(d.output_dtype);
    if ((d.batch_stride_a * in_bytes) % d.alignment ||
        (d.batch_stride_b * in_bytes) % d.alignment ||
        (d.batch_stride_d * out_bytes) % d.alignment) {
      return bad("a batch stride that is not a multiple of the " + std::to_string(d.alignment) +
                 "-byte alignment (later matrices would be less aligned than the first)");
    }
  }
  return ok_status();
}

MatmulExtents matmul_extents(const MatmulDesc& in) {
  const MatmulDesc d = resolve_strides(in);
  MatmulExtents e;
  e.a = span(d.batch, d.batch_stride_a, stored_rows_a(d), stored_cols_a(d), d.lda);
  e.b = span(d.batch, d.batch_stride_b, stored_rows_b(d), stored_cols_b(d), d.ldb);
  e.d = span(d.batch, d.batch_stride_d, d.m, d.n, d.ldd);
  e.bias = d.bias ? d.n : 0;
  return e;
}

std::string matmul_key(const MatmulDesc& in) {
  const MatmulDesc d = resolve_strides(in);
  const auto s = [](int64_t v) { return std::to_string(v); };
  std::string key = "m" + s(d.m) + ".n" + s(d.n) + ".k" + s(d.k) + ".b" + s(d.batch) + "." +
                    (d.trans_a ? "t" : "n") + (d.trans_b ? "t" : "n") + ".ld" + s(d.lda) + "," +
                    s(d.ldb) + "," + s(d.ldd) + ".s" + s(d.batch_stride_a) + "," +
                    s(d.batch_stride_b) + "," + s(d.batch_stride_d) + "." +
                    short_name(d.input_dtype) + ">" + short_name(d.output_dtype) + "." +
                    (d.compute == MatmulCompute::kTf32 ? "tf32" : "f32");
  if (d.bias) key += ".bias";
  if (d.activation == MatmulActivation::kRelu) key += ".relu";
  if (d.activation == MatmulActivation::kGelu) key += ".gelu";
  if (d.beta != 0.0f) key += ".c";
  key += ".al" + s(d.alignment);
  return key;
}

MatmulActivation matmul_activation_for(Activation a, float alpha, float beta, bool accept_tanh_gelu,
                                       bool* fits) {
  *fits = true;
  switch (a) {
    case Activation::kNone:
      return MatmulActivation::kNone;
    case Activation::kRelu:
      return MatmulActivation::kRelu;
    case Activation::kClip:
      if (alpha == 0.0f && beta == std::numeric_limits<float>::infinity()) {
        return MatmulActivation::kRelu;
      }
      break;
    case Activation::kGeluTanh:
      return MatmulActivation::kGelu;
    case Activation::kGelu:
      if (accept_tanh_gelu) return MatmulActivation::kGelu;
      break;
    default:
      break;
  }
  *fits = false;
  return MatmulActivation::kNone;
}

size_t cublaslt_version() { return cublasLtGetVersion(); }

// --- records -----------------------------------------------------------------------------------

std::string serialize_algo_record(const AlgoRecord& r) {
  std::string algo;
  for (uint64_t w : r.algo) algo += hex64(w);
  char ms[32];
  const auto res = std::to_chars(ms, ms + sizeof(ms), r.median_ms);
  std::string line = std::string(kRecordFormat) + " key=" + r.key +
                     " cublaslt=" + std::to_string(r.cublaslt_version) + " algo=" + algo +
                     " workspace=" + std::to_string(r.workspace_bytes) +
                     " median_ms=" + std::string(ms, res.ptr);
  return line + " check=" + hex64(fnv1a64(line));
}

Result<AlgoRecord> parse_algo_record(const std::string& line) {
  const auto bad = [&](const std::string& why) {
    return corrupt("cuBLASLt algorithm record is damaged (" + why + "): \"" + line + "\"");
  };
  const size_t check_at = line.rfind(" check=");
  if (check_at == std::string::npos) return bad("no check field");
  uint64_t stored = 0;
  if (!parse_hex64(std::string_view(line).substr(check_at + 7), &stored)) {
    return bad("the check field is not 16 hex digits");
  }
  const std::string_view body = std::string_view(line).substr(0, check_at);
  const uint64_t computed = fnv1a64(body);
  if (stored != computed) {
    return bad("checksum " + hex64(stored) + " does not match its text, " + hex64(computed));
  }
  // The checksum holds, so this is what serialize_algo_record wrote, unless a different writer
  // produced it: still check every field.
  AlgoRecord r;
  bool seen[5] = {};
  size_t pos = 0;
  bool first = true;
  while (pos <= body.size()) {
    size_t end = body.find(' ', pos);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view token = body.substr(pos, end - pos);
    pos = end + 1;
    if (first) {
      if (token != kRecordFormat) return bad("not a " + std::string(kRecordFormat) + " record");
      first = false;
      continue;
    }
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos) return bad("a field without '='");
    const std::string_view name = token.substr(0, eq), value = token.substr(eq + 1);
    int index = -1;
    bool ok = false;
    if (name == "key") {
      index = 0;
      r.key = std::string(value);
      ok = !value.empty();
    } else if (name == "cublaslt") {
      index = 1;
      ok = parse_number(value, &r.cublaslt_version);
    } else if (name == "algo") {
      index = 2;
      ok = value.size() == 8 * 16;
      for (size_t i = 0; ok && i < 8; ++i) ok = parse_hex64(value.substr(i * 16, 16), &r.algo[i]);
    } else if (name == "workspace") {
      index = 3;
      ok = parse_number(value, &r.workspace_bytes);
    } else if (name == "median_ms") {
      index = 4;
      ok = parse_number(value, &r.median_ms);
    } else {
      return bad("unknown field '" + std::string(name) + "'");
    }
    if (!ok) return bad("field '" + std::string(name) + "' is malformed");
    if (seen[index]) return bad("field '" + std::string(name) + "' twice");
    seen[index] = true;
  }
  for (bool s : seen) {
    if (!s) return bad("a field is missing");
  }
  return r;
}

// --- plans -------------------------------------------------------------------------------------

MatmulPlan::MatmulPlan(MatmulPlan&& o) noexcept
    : desc_(o.desc_),
      key_(std::move(o.key_)),
      operation_(std::exchange(o.operation_, nullptr)),
      layout_a_(std::exchange(o.layout_a_, nullptr)),
      layout_b_(std::exchange(o.layout_b_, nullptr)),
      layout_d_(std::exchange(o.layout_d_, nullptr)),
      algo_(o.algo_),
      has_algo_(o.has_algo_),
      workspace_bytes_(o.workspace_bytes_) {}

MatmulPlan& MatmulPlan::operator=(MatmulPlan&& o) noexcept {
  if (this != &o) {
    release();
    desc_ = o.desc_;
    key_ = std::move(o.key_);
    operation_ = std::exchange(o.operation_, nullptr);
    layout_a_ = std::exchange(o.layout_a_, nullptr);
    layout_b_ = std::exchange(o.layout_b_, nullptr);
    layout_d_ = std::exchange(o.layout_d_, nullptr);
    algo_ = o.algo_;
    has_algo_ = o.has_algo_;
    workspace_bytes_ = o.workspace_bytes_;
  }
  return *this;
}

MatmulPlan::~MatmulPlan() { release(); }

void MatmulPlan::release() {
  if (operation_) cublasLtMatmulDescDestroy(operation_);
  for (cublasLtMatrixLayout_t l : {layout_a_, layout_b_, layout_d_}) {
    if (l) cublasLtMatrixLayoutDestroy(l);
  }
  operation_ = nullptr;
  layout_a_ = layout_b_ = layout_d_ = nullptr;
}

AlgoRecord MatmulPlan::record() const {
  AlgoRecord r;
  r.key = key_;
  r.cublaslt_version = cublaslt_version();
  std::memcpy(r.algo.data(), algo_.data, sizeof(algo_.data));
  r.workspace_bytes = workspace_bytes_;
  return r;
}

Result<MatmulPlan> describe_matmul(const MatmulDesc& desc) {
  KILN_RETURN_IF_ERROR(validate_matmul_desc(desc));
  return make_descriptors(resolve_strides(desc));
}

Result<MatmulPlan> create_matmul_plan(cublasLtHandle_t handle, const MatmulDesc& desc,
                                      size_t max_workspace_bytes) {
  KILN_RETURN_IF_ERROR(validate_matmul_desc(desc));
  KILN_ASSIGN_OR_RETURN(MatmulPlan plan, make_descriptors(resolve_strides(desc)));
  KILN_ASSIGN_OR_RETURN(auto algos, heuristic_algos(handle, plan, 1, max_workspace_bytes));
  MatmulPlanAccess::set_algo(plan, algos[0].algo, algos[0].workspaceSize);
  return plan;
}

Result<MatmulPlan> create_matmul_plan(cublasLtHandle_t handle, const MatmulDesc& desc,
                                      const AlgoRecord& record, size_t max_workspace_bytes) {
  KILN_RETURN_IF_ERROR(validate_matmul_desc(desc));
  const std::string key = matmul_key(desc);
  if (record.key != key) {
    return invalid_argument("cuBLASLt algorithm record is for product " + record.key +
                            ", not for " + key);
  }
  if (record.cublaslt_version != cublaslt_version()) {
    return incompatible(key + ": the cuBLASLt algorithm record was made with cuBLASLt " +
                        std::to_string(record.cublaslt_version) + ", this is cuBLASLt " +
                        std::to_string(cublaslt_version()) + " (tune again)");
  }
  KILN_ASSIGN_OR_RETURN(MatmulPlan plan, make_descriptors(resolve_strides(desc)));
  cublasLtMatmulAlgo_t algo;
  static_assert(sizeof(algo.data) == sizeof(record.algo));
  std::memcpy(algo.data, record.algo.data(), sizeof(algo.data));
  cublasLtMatmulHeuristicResult_t checked{};
  const cublasStatus_t s = cublasLtMatmulAlgoCheck(
      handle, MatmulPlanAccess::operation(plan), MatmulPlanAccess::layout_a(plan),
      MatmulPlanAccess::layout_b(plan), MatmulPlanAccess::layout_d(plan),
      MatmulPlanAccess::layout_d(plan), &algo, &checked);
  if (s != CUBLAS_STATUS_SUCCESS) {
    return incompatible(key + ": cublasLtMatmulAlgoCheck rejects the recorded algorithm for " +
                        "this product on this device: " + cublasLtGetStatusName(s) + " (" +
                        cublasLtGetStatusString(s) + ")");
  }
  if (checked.workspaceSize > max_workspace_bytes) {
    return incompatible(key + ": the recorded algorithm needs " +
                        std::to_string(checked.workspaceSize) + " bytes of workspace, more than " +
                        std::to_string(max_workspace_bytes));
  }
  MatmulPlanAccess::set_algo(plan, algo, checked.workspaceSize);
  return plan;
}

// --- running -----------------------------------------------------------------------------------

Status run_matmul(cublasLtHandle_t handle, const MatmulPlan& plan, const MatmulOperands& x,
                  void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const MatmulDesc& d = plan.desc();
  const std::string& key = plan.key();
  const bool reads_c = d.beta != 0.0f;
  if (!plan.has_algo()) {
    return invalid_argument(key + ": the plan has no algorithm (made by describe_matmul)");
  }
  if (!x.a || !x.b || !x.d || (reads_c && !x.c) || (d.bias && !x.bias)) {
    return invalid_argument(key + ": run_matmul is missing an operand pointer (A, B, D" +
                            std::string(reads_c ? ", C" : "") + (d.bias ? ", bias" : "") + ")");
  }
  const int64_t al = d.alignment;
  if (!aligned(x.a, al) || !aligned(x.b, al) || !aligned(x.d, al) ||
      (reads_c && !aligned(x.c, al)) || (d.bias && !aligned(x.bias, al))) {
    return invalid_argument(key + ": an operand pointer is not aligned to the " +
                            std::to_string(al) + " bytes the plan was made for");
  }
  if (workspace_bytes < plan.workspace_bytes() || (plan.workspace_bytes() > 0 && !workspace)) {
    return invalid_argument(key + ": the algorithm needs " +
                            std::to_string(plan.workspace_bytes()) + " bytes of workspace, got " +
                            std::to_string(workspace ? workspace_bytes : 0));
  }
  if (workspace && !aligned(workspace, kMatmulWorkspaceAlignment)) {
    return invalid_argument(key + ": the workspace must be 256-byte aligned");
  }

  // With a bias the pointer is an attribute of the operation descriptor: set it on a copy made
  // on the stack (no allocation), so that the plan stays read-only and can be shared by threads.
  cublasLtMatmulDescOpaque_t storage;
  cublasLtMatmulDesc_t op = plan.operation();
  if (d.bias) {
    op = &storage;
    KILN_CUBLAS_RETURN_IF_ERROR(key, cublasLtMatmulDescInit(op, compute_type(d), CUDA_R_32F));
    KILN_RETURN_IF_ERROR(configure_operation(op, d, key, x.bias));
  }
  const float alpha = d.alpha, beta = d.beta;
  // Without C, D stands in for it (beta = 0: cuBLASLt does not read it).
  const void* c = reads_c ? x.c : x.d;
  // kiln's B is cuBLASLt's A, kiln's A its B.
  KILN_CUBLAS_RETURN_IF_ERROR(
      key, cublasLtMatmul(handle, op, &alpha, x.b, plan.lt_layout_a(), x.a, plan.lt_layout_b(),
                          &beta, c, plan.lt_layout_d(), x.d, plan.lt_layout_d(), &plan.algo(),
                          workspace, workspace ? workspace_bytes : 0, stream));
  return ok_status();
}

Result<MatmulTiming> time_matmul(cublasLtHandle_t handle, const MatmulPlan& plan,
                                 const MatmulOperands& operands, void* workspace,
                                 size_t workspace_bytes, cudaStream_t stream, int warmup_runs,
                                 int timed_runs) {
  return time_launches([&] { return run_matmul(handle, plan, operands, workspace, workspace_bytes, stream); },
                       stream, warmup_runs, timed_runs, plan.key());
}

// --- tuning ------------------------------------------------------------------------------------

Result<TuneResult> tune_matmul(cublasLtHandle_t handle, const MatmulDesc& desc,
                               const TuneOptions& options, cudaStream_t stream) {
  KILN_RETURN_IF_ERROR(validate_matmul_desc(desc));
  const MatmulDesc d = resolve_strides(desc);
  const std::string key = matmul_key(d);
  if (options.candidates < 1 || options.timed_runs < 1 || options.warmup_runs < 0) {
    return invalid_argument(key +
                            ": tune_matmul needs candidates >= 1, timed_runs >= 1 and "
                            "warmup_runs >= 0");
  }
  KILN_ASSIGN_OR_RETURN(MatmulPlan probe, make_descriptors(d));
  KILN_ASSIGN_OR_RETURN(
      auto algos, heuristic_algos(handle, probe, options.candidates, options.max_workspace_bytes));

  // Scratch operands. cudaMalloc's 256-byte alignment satisfies every desc.alignment.
  const MatmulExtents e = matmul_extents(d);
  const int64_t in_bytes = bytes_of(d.input_dtype), out_bytes = bytes_of(d.output_dtype);
  DeviceMemory a, b, c, out, bias, workspace;
  KILN_RETURN_IF_ERROR(allocate(&a, e.a * in_bytes, key));
  KILN_RETURN_IF_ERROR(allocate(&b, e.b * in_bytes, key));
  KILN_RETURN_IF_ERROR(allocate(&out, e.d * out_bytes, key));
  KILN_RETURN_IF_ERROR(fill_random(a.ptr, d.input_dtype, e.a, 1, key));
  KILN_RETURN_IF_ERROR(fill_random(b.ptr, d.input_dtype, e.b, 2, key));
  MatmulOperands x{a.ptr, b.ptr, nullptr, out.ptr, nullptr};
  if (d.beta != 0.0f) {
    KILN_RETURN_IF_ERROR(allocate(&c, e.d * out_bytes, key));
    KILN_RETURN_IF_ERROR(fill_random(c.ptr, d.output_dtype, e.d, 3, key));
    x.c = c.ptr;
  }
  if (d.bias) {
    KILN_RETURN_IF_ERROR(allocate(&bias, e.bias * out_bytes, key));
    KILN_RETURN_IF_ERROR(fill_random(bias.ptr, d.output_dtype, e.bias, 4, key));
    x.bias = bias.ptr;
  }
  size_t workspace_bytes = 0;
  for (const auto& r : algos) workspace_bytes = std::max(workspace_bytes, r.workspaceSize);
  if (workspace_bytes > 0) {
    KILN_RETURN_IF_ERROR(allocate(&workspace, static_cast<int64_t>(workspace_bytes), key));
  }

  std::vector<CandidateTiming> timings;
  int best = -1;
  for (size_t i = 0; i < algos.size(); ++i) {
    MatmulPlanAccess::set_algo(probe, algos[i].algo, algos[i].workspaceSize);
    CandidateTiming t;
    t.rank = static_cast<int>(i);
    t.record = probe.record();
    auto timed = time_matmul(handle, probe, x, workspace.ptr, workspace_bytes, stream,
                             options.warmup_runs, options.timed_runs);
    if (timed.ok()) {
      t.record.median_ms = timed->median_ms;
      if (best < 0 || t.record.median_ms < timings[static_cast<size_t>(best)].record.median_ms) {
        best = static_cast<int>(i);
      }
    } else {
      t.error = timed.status().message();
      // A failed launch leaves no sticky error, but a failed event call might: clear it and
      // let the stream finish what was queued before the next candidate.
      cudaGetLastError();
      cudaStreamSynchronize(stream);
    }
    timings.push_back(std::move(t));
  }
  if (best < 0) {
    std::string why = key + ": none of the " + std::to_string(timings.size()) +
                      " cuBLASLt candidates ran; the first failed with: " + timings[0].error;
    return internal_error(std::move(why));
  }
  const CandidateTiming& chosen = timings[static_cast<size_t>(best)];
  MatmulPlanAccess::set_algo(probe, algos[static_cast<size_t>(best)].algo,
                             algos[static_cast<size_t>(best)].workspaceSize);
  AlgoRecord record = chosen.record;
  return TuneResult{std::move(probe), std::move(record), std::move(timings), best};
}

// --- handles -----------------------------------------------------------------------------------

CublasLtHandle& CublasLtHandle::operator=(CublasLtHandle&& other) noexcept {
  if (this != &other) {
    if (handle_) cublasLtDestroy(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

CublasLtHandle::~CublasLtHandle() {
  if (handle_) cublasLtDestroy(handle_);
}

Result<CublasLtHandle> CublasLtHandle::create() {
  CublasLtHandle h;
  const cublasStatus_t s = cublasLtCreate(&h.handle_);
  if (s != CUBLAS_STATUS_SUCCESS) return cublas_error("cublasLt", "cublasLtCreate", s);
  return h;
}

}  // namespace kiln::cuda
