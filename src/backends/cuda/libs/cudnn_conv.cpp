// cuDNN 9 graph-API convolutions with FusedConv's epilogue (cudnn_conv.h).
//
// Written against the backend descriptors directly (cudnn_graph.h) rather than cudnn-frontend:
// the whole graph here is one convolution and up to four pointwise ops, the record a timing cache
// keeps is exactly an engine's global index and knob choices (backend attributes), and the
// frontend would add a pip-installed header tree whose version has to follow the cuDNN on each
// machine (9.19 headers here, 9.14 libraries on the GPU machine). Only attributes that cuDNN
// 9.0 already had are used, so a binary built here loads and runs with any cuDNN 9.
#include "backends/cuda/libs/cudnn_conv.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

namespace kiln::cuda {

// The byte alignment promised to cuDNN for every tensor (vectorized engines need 16).
static constexpr int64_t kTensorAlignment = 16;

namespace {

// ---- errors -----------------------------------------------------------------------------------

std::string version_string(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%" PRId64 ".%" PRId64, v / 10000, (v % 10000) / 100,
                v % 100);
  return buf;
}

// A cuDNN failure as a kiln Status: the step, cuDNN's status name and its last message (kept per
// thread by cuDNN). The NOT_SUPPORTED family is kUnsupported so callers can split the graph.
Status cudnn_status(cudnnStatus_t s, const std::string& what) {
  char last[1024] = {0};
  cudnnGetLastErrorString(last, sizeof last);
  std::string msg = "cuDNN: " + what + ": " + cudnnGetErrorString(s);
  if (last[0] != 0) msg += std::string(" (") + last + ")";
  switch (static_cast<int>(s) / 1000 * 1000) {
    case 2000:
      return invalid_argument(msg);
    case 3000:
      return unsupported(msg);
    default:
      if (s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
          s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
        return out_of_memory(msg);
      return internal_error(msg);
  }
}

Status cuda_status(cudaError_t e, const std::string& what) {
  return internal_error("CUDA: " + what + ": " + cudaGetErrorString(e));
}

#define KILN_CUDNN_TRY(call, what)                                   \
  do {                                                               \
    const cudnnStatus_t kiln_cudnn_status_ = (call);                 \
    if (kiln_cudnn_status_ != CUDNN_STATUS_SUCCESS)                  \
      return ::kiln::cuda::cudnn_status(kiln_cudnn_status_, (what)); \
  } while (0)

#define KILN_CUDA_TRY(call, what)                                  \
  do {                                                             \
    const cudaError_t kiln_cuda_status_ = (call);                  \
    if (kiln_cuda_status_ != cudaSuccess)                          \
      return ::kiln::cuda::cuda_status(kiln_cuda_status_, (what)); \
  } while (0)

// ---- descriptors ------------------------------------------------------------------------------

// One backend descriptor, destroyed with its owner.
class Descriptor {
 public:
  Descriptor() = default;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Descriptor& operator=(Descriptor&& o) noexcept {
    if (this != &o) {
      reset();
      d_ = std::exchange(o.d_, nullptr);
    }
    return *this;
  }
  ~Descriptor() { reset(); }

  static Result<Descriptor> create(cudnnBackendDescriptorType_t type, const std::string& what) {
    Descriptor d;
    KILN_CUDNN_TRY(cudnnBackendCreateDescriptor(type, &d.d_), "creating the " + what);
    return d;
  }

  cudnnBackendDescriptor_t get() const { return d_; }
  void reset() {
    if (d_ != nullptr) cudnnBackendDestroyDescriptor(d_);
    d_ = nullptr;
  }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// Descriptors that outlive the one that refers to them: destroyed newest first.
class DescriptorList {
 public:
  DescriptorList() = default;
  DescriptorList(DescriptorList&&) noexcept = default;
  DescriptorList& operator=(DescriptorList&&) noexcept = default;
  ~DescriptorList() { clear(); }
  cudnnBackendDescriptor_t add(Descriptor d) {
    list_.push_back(std::move(d));
    return list_.back().get();
  }
  void clear() {
    while (!list_.empty()) list_.pop_back();
  }

 private:
  std::vector<Descriptor> list_;
};

Status set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendAttributeType_t type, int64_t count, const void* values,
                const std::string& what) {
  KILN_CUDNN_TRY(cudnnBackendSetAttribute(d, name, type, count, values),
                 "setting attribute " + std::to_string(static_cast<int>(name)) + " of the " + what);
  return ok_status();
}

Status set_int64(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, int64_t v,
                 const std::string& what) {
  return set_attr(d, name, CUDNN_TYPE_INT64, 1, &v, what);
}

Status set_int64s(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                  const std::vector<int64_t>& v, const std::string& what) {
  return set_attr(d, name, CUDNN_TYPE_INT64, static_cast<int64_t>(v.size()), v.data(), what);
}

Status set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendDescriptor_t v, const std::string& what) {
  return set_attr(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v, what);
}

Status set_dtype(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnDataType_t v,
                 const std::string& what) {
  return set_attr(d, name, CUDNN_TYPE_DATA_TYPE, 1, &v, what);
}

Status set_double(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, double v,
                  const std::string& what) {
  return set_attr(d, name, CUDNN_TYPE_DOUBLE, 1, &v, what);
}

Status finalize(cudnnBackendDescriptor_t d, const std::string& what) {
  KILN_CUDNN_TRY(cudnnBackendFinalize(d), "finalizing the " + what);
  return ok_status();
}

// ---- problem ----------------------------------------------------------------------------------

cudnnDataType_t cudnn_dtype(DataType t) {
  switch (t) {
    case DataType::kFloat16:
      return CUDNN_DATA_HALF;
    case DataType::kBFloat16:
      return CUDNN_DATA_BFLOAT16;
    default:
      return CUDNN_DATA_FLOAT;
  }
}

size_t dtype_bytes(DataType t) { return t == DataType::kFloat32 ? 4 : 2; }

// dtype_name()'s spelling for the dtypes taken here (that function lives in the kiln library,
// which this one does not link).
std::string dtype_text(DataType t) {
  switch (t) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kFloat16:
      return "float16";
    case DataType::kBFloat16:
      return "bfloat16";
    default:
      return "dtype " + std::to_string(static_cast<int>(t));
  }
}

// FusedConv's activation names (docs/fused_ops.md), spelled here so this library needs no more
// of kiln than its headers.
const char* act_name(Activation a) {
  switch (a) {
    case Activation::kNone:
      return "";
    case Activation::kRelu:
      return "Relu";
    case Activation::kLeakyRelu:
      return "LeakyRelu";
    case Activation::kClip:
      return "Clip";
    case Activation::kSigmoid:
      return "Sigmoid";
    case Activation::kTanh:
      return "Tanh";
    case Activation::kHardSigmoid:
      return "HardSigmoid";
    case Activation::kHardSwish:
      return "HardSwish";
    case Activation::kSilu:
      return "Silu";
    case Activation::kGelu:
      return "Gelu";
    case Activation::kGeluTanh:
      return "GeluTanh";
  }
  return "?";
}

// How one activation is written as a cuDNN pointwise op.
struct PointwiseSpec {
  cudnnPointwiseMode_t mode = CUDNN_POINTWISE_IDENTITY;
  bool relu_clips = false;  // RELU_FWD: y = x < lower ? lower + slope·(x - lower) : min(x, upper)
  double lower_clip = 0, upper_clip = 0, lower_clip_slope = 0;
  bool swish = false;  // SWISH_FWD: y = x · sigmoid(beta·x)
  double swish_beta = 1;
};

// The float range ends stand in for ±inf: cuDNN clamps the clips to float's range anyway.
double clip_bound(float v) {
  const double m = std::numeric_limits<float>::max();
  return std::clamp(static_cast<double>(v), -m, m);
}

Result<PointwiseSpec> pointwise_for(Activation a, float alpha, float beta, const char* which) {
  PointwiseSpec s;
  const double float_max = std::numeric_limits<float>::max();
  switch (a) {
    case Activation::kRelu:
      s.mode = CUDNN_POINTWISE_RELU_FWD;
      s.relu_clips = true;
      s.upper_clip = float_max;
      return s;
    case Activation::kLeakyRelu:
      s.mode = CUDNN_POINTWISE_RELU_FWD;
      s.relu_clips = true;
      s.upper_clip = float_max;
      s.lower_clip_slope = alpha;  // below 0: 0 + alpha·(x - 0)
      return s;
    case Activation::kClip:
      if (!(alpha <= beta))  // numpy's clip gives max everywhere then; RELU_FWD cannot
        return unsupported(std::string(which) + " Clip with min > max has no cuDNN pointwise op");
      s.mode = CUDNN_POINTWISE_RELU_FWD;
      s.relu_clips = true;
      s.lower_clip = clip_bound(alpha);
      s.upper_clip = clip_bound(beta);
      return s;
    case Activation::kSigmoid:
      s.mode = CUDNN_POINTWISE_SIGMOID_FWD;
      return s;
    case Activation::kTanh:
      s.mode = CUDNN_POINTWISE_TANH_FWD;
      return s;
    case Activation::kSilu:
      s.mode = CUDNN_POINTWISE_SWISH_FWD;
      s.swish = true;
      return s;
    case Activation::kGelu:
      s.mode = CUDNN_POINTWISE_GELU_FWD;
      return s;
    case Activation::kGeluTanh:
      s.mode = CUDNN_POINTWISE_GELU_APPROX_TANH_FWD;
      return s;
    case Activation::kHardSigmoid:
    case Activation::kHardSwish:
    case Activation::kNone:
      break;
  }
  return unsupported(std::string(which) + " " + act_name(a) +
                     " has no cuDNN pointwise op: run it with kiln's pointwise kernels");
}

std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

// ---- records ----------------------------------------------------------------------------------

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

template <typename T>
bool parse_int(const std::string& s, T* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end;
}

// "name=value" → value, or false when the token has another name.
bool field(const std::string& token, const char* name, std::string* value) {
  const size_t n = std::strlen(name);
  if (token.size() <= n || token.compare(0, n, name) != 0 || token[n] != '=') return false;
  *value = token.substr(n + 1);
  return true;
}

std::string knobs_text(const std::vector<std::pair<int64_t, int64_t>>& knobs) {
  if (knobs.empty()) return "-";
  std::string s;
  for (size_t i = 0; i < knobs.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(knobs[i].first) + ':' + std::to_string(knobs[i].second);
  }
  return s;
}

// ---- device -----------------------------------------------------------------------------------

Result<int> current_compute_capability() {
  int device = 0, major = 0, minor = 0;
  KILN_CUDA_TRY(cudaGetDevice(&device), "cudaGetDevice");
  KILN_CUDA_TRY(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
                "reading the compute capability");
  KILN_CUDA_TRY(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device),
                "reading the compute capability");
  return major * 10 + minor;
}

Status check_cudnn_major() {
  const int64_t v = cudnn_runtime_version();
  if (v / 10000 != 9)
    return incompatible("kiln's convolutions need cuDNN 9; this process loaded cuDNN " +
                        version_string(v));
  return ok_status();
}

// Device memory freed on scope exit (tuning only).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (p_ != nullptr) cudaFree(p_);
  }
  Status allocate(size_t bytes, const char* what) {
    if (bytes == 0) return ok_status();
    const cudaError_t e = cudaMalloc(&p_, bytes);
    if (e != cudaSuccess) {
      p_ = nullptr;
      return out_of_memory("CUDA: allocating " + std::to_string(bytes) + " bytes for the " + what +
                           " while tuning: " + cudaGetErrorString(e));
    }
    return ok_status();
  }
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() {
    if (e_ != nullptr) cudaEventDestroy(e_);
  }
  Status create() {
    KILN_CUDA_TRY(cudaEventCreate(&e_), "cudaEventCreate");
    return ok_status();
  }
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

}  // namespace

// ---- ConvProblem ------------------------------------------------------------------------------

static int64_t out_extent(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          int64_t pad_begin, int64_t pad_end) {
  const int64_t span = in + pad_begin + pad_end;
  const int64_t window = dilation * (kernel - 1) + 1;
  if (stride <= 0 || span < window) return 0;
  return (span - window) / stride + 1;
}

int64_t ConvProblem::out_height() const {
  return out_extent(in_height, kernel_height, strides[0], dilations[0], pads_begin[0], pads_end[0]);
}

int64_t ConvProblem::out_width() const {
  return out_extent(in_width, kernel_width, strides[1], dilations[1], pads_begin[1], pads_end[1]);
}

double ConvProblem::macs() const {
  return static_cast<double>(batch) * static_cast<double>(out_height()) *
         static_cast<double>(out_width()) * static_cast<double>(out_channels) *
         static_cast<double>(in_channels / std::max<int64_t>(groups, 1)) *
         static_cast<double>(kernel_height) * static_cast<double>(kernel_width);
}

Status check_conv_problem(const ConvProblem& p) {
  if (p.dtype != DataType::kFloat32 && p.dtype != DataType::kFloat16 &&
      p.dtype != DataType::kBFloat16)
    return unsupported("cuDNN convolution: " + dtype_text(p.dtype) +
                       " (float32, float16 and bfloat16 only)");
  constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
  const std::pair<const char*, int64_t> dims[] = {
      {"batch", p.batch},
      {"in_channels", p.in_channels},
      {"in_height", p.in_height},
      {"in_width", p.in_width},
      {"out_channels", p.out_channels},
      {"kernel_height", p.kernel_height},
      {"kernel_width", p.kernel_width},
      {"groups", p.groups},
      {"stride", p.strides[0]},
      {"stride", p.strides[1]},
      {"dilation", p.dilations[0]},
      {"dilation", p.dilations[1]},
  };
  for (const auto& [name, v] : dims)
    if (v < 1 || v > kMaxDim)
      return invalid_argument(std::string("cuDNN convolution: ") + name + " " + std::to_string(v) +
                              " is outside [1, 2^31)");
  for (int i = 0; i < 2; ++i)
    if (p.pads_begin[i] < 0 || p.pads_end[i] < 0 || p.pads_begin[i] > kMaxDim ||
        p.pads_end[i] > kMaxDim)
      return invalid_argument("cuDNN convolution: negative or huge padding");
  if (p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0)
    return invalid_argument("cuDNN convolution: " + std::to_string(p.groups) +
                            " groups do not divide C=" + std::to_string(p.in_channels) +
                            " and K=" + std::to_string(p.out_channels));
  if (p.out_height() < 1 || p.out_width() < 1)
    return invalid_argument(
        "cuDNN convolution: the (dilated) kernel is larger than the padded "
        "input: " +
        conv_problem_key(p));
  // Element counts stay far below int64's range (cuDNN indexes with int64).
  const double limit = 4.0e18;
  if (static_cast<double>(p.batch) * p.in_height * p.in_width * p.in_channels > limit ||
      static_cast<double>(p.batch) * p.out_height() * p.out_width() * p.out_channels > limit ||
      static_cast<double>(p.out_channels) * p.kernel_height * p.kernel_width * p.in_channels >
          limit)
    return invalid_argument("cuDNN convolution: tensor too large");
  if (p.activation != Activation::kNone) {
    auto s = pointwise_for(p.activation, p.activation_alpha, p.activation_beta, "activation");
    if (!s.ok()) return s.status();
  }
  if (p.post_activation != Activation::kNone) {
    auto s = pointwise_for(p.post_activation, p.post_activation_alpha, p.post_activation_beta,
                           "post_activation");
    if (!s.ok()) return s.status();
  }
  return ok_status();
}

std::string conv_problem_key(const ConvProblem& p) {
  auto pair = [](const std::array<int64_t, 2>& v) {
    return std::to_string(v[0]) + "x" + std::to_string(v[1]);
  };
  auto act = [](Activation a, float alpha, float beta) {
    return std::string(act_name(a)) + "(" + float_text(alpha) + ";" + float_text(beta) + ")";
  };
  std::string k = dtype_text(p.dtype);
  k += ",n" + std::to_string(p.batch) + ",c" + std::to_string(p.in_channels) + ",h" +
       std::to_string(p.in_height) + ",w" + std::to_string(p.in_width) + ",k" +
       std::to_string(p.out_channels) + ",r" + std::to_string(p.kernel_height) + ",s" +
       std::to_string(p.kernel_width) + ",g" + std::to_string(p.groups) + ",st" + pair(p.strides) +
       ",dl" + pair(p.dilations) + ",pb" + pair(p.pads_begin) + ",pe" + pair(p.pads_end);
  if (p.dtype == DataType::kFloat32) k += p.allow_tf32 ? ",tf32" : ",notf32";
  if (p.has_bias) k += ",bias";
  if (p.activation != Activation::kNone)
    k += ",act=" + act(p.activation, p.activation_alpha, p.activation_beta);
  if (p.has_residual) k += ",z";
  if (p.post_activation != Activation::kNone)
    k += ",post=" + act(p.post_activation, p.post_activation_alpha, p.post_activation_beta);
  return k;
}

std::string ConvEngineNotes::to_string() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ',';
    s += name;
  };
  add(tensor_cores, "tensor-cores");
  add(down_converts_inputs, "down-converts-inputs");
  add(reduced_precision_reduction, "reduced-precision-reduction");
  add(winograd, "winograd");
  add(fft, "fft");
  add(nondeterministic, "nondeterministic");
  add(runtime_compiled, "runtime-compiled");
  return s;
}

int64_t cudnn_runtime_version() { return static_cast<int64_t>(cudnnGetVersion()); }

// ---- ConvPlanRecord ---------------------------------------------------------------------------

std::string ConvPlanRecord::to_string() const {
  std::string s = std::string(kMagic) + " cudnn=" + std::to_string(cudnn_version) +
                  " sm=" + std::to_string(compute_capability) +
                  " engine=" + std::to_string(engine_id) + " knobs=" + knobs_text(knobs) +
                  " problem=" + problem_key;
  char check[32];
  std::snprintf(check, sizeof check, " check=%016" PRIx64, fnv1a(s));
  return s + check;
}

Result<ConvPlanRecord> ConvPlanRecord::parse(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return corrupt("cuDNN convolution plan record: " + why + ": \"" + text + "\"");
  };
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t space = text.find(' ', start);
    const size_t end = space == std::string::npos ? text.size() : space;
    tokens.push_back(text.substr(start, end - start));
    if (space == std::string::npos) break;
    start = space + 1;
  }
  if (tokens.size() != 7) return bad("expected 7 space-separated fields");
  if (tokens[0] != kMagic) return bad(std::string("does not start with ") + kMagic);
  const size_t check_at = text.rfind(" check=");
  std::string value;
  uint64_t check = 0;
  if (!field(tokens[6], "check", &value) || value.size() != 16 ||
      std::from_chars(value.data(), value.data() + value.size(), check, 16).ptr !=
          value.data() + value.size())
    return bad("no 16-digit check");
  if (check != fnv1a(text.substr(0, check_at))) return bad("the check does not match (damaged)");

  ConvPlanRecord r;
  if (!field(tokens[1], "cudnn", &value) || !parse_int(value, &r.cudnn_version))
    return bad("no cudnn= version");
  if (!field(tokens[2], "sm", &value) || !parse_int(value, &r.compute_capability))
    return bad("no sm= compute capability");
  if (!field(tokens[3], "engine", &value) || !parse_int(value, &r.engine_id) || r.engine_id < 0)
    return bad("no engine= index");
  if (!field(tokens[4], "knobs", &value)) return bad("no knobs= list");
  if (value != "-") {
    size_t pos = 0;
    while (pos <= value.size()) {
      const size_t comma = std::min(value.find(',', pos), value.size());
      const std::string item = value.substr(pos, comma - pos);
      const size_t colon = item.find(':');
      std::pair<int64_t, int64_t> knob;
      if (colon == std::string::npos || !parse_int(item.substr(0, colon), &knob.first) ||
          !parse_int(item.substr(colon + 1), &knob.second) || knob.first < 0)
        return bad("knob \"" + item + "\" is not type:value");
      r.knobs.push_back(knob);
      pos = comma + 1;
    }
  }
  if (!field(tokens[5], "problem", &r.problem_key)) return bad("no problem= key");
  return r;
}

// ---- graph ------------------------------------------------------------------------------------

namespace {

// The variant-pack ids of the graph's real tensors.
enum : int64_t { kUidX = 1, kUidW = 2, kUidB = 3, kUidZ = 4, kUidY = 5, kUidVirtual = 100 };

// The operation graph of one problem and every descriptor it refers to.
struct OpGraph {
  DescriptorList parts;
  Descriptor graph;
  std::string summary;  // "conv+bias+Relu" for messages
  ~OpGraph() {
    graph.reset();
    parts.clear();
  }
};

// A tensor in cuDNN's N, C, spatial dimension order with NHWC strides (channels innermost).
Result<Descriptor> make_tensor(int64_t uid, cudnnDataType_t dtype, int64_t n, int64_t c, int64_t h,
                               int64_t w, bool is_virtual, const std::string& what) {
  KILN_ASSIGN_OR_RETURN(Descriptor t, Descriptor::create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, what));
  const std::vector<int64_t> dims = {n, c, h, w};
  const std::vector<int64_t> strides = {h * w * c, 1, w * c, c};
  const bool virt = is_virtual;
  KILN_RETURN_IF_ERROR(set_dtype(t.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, dtype, what));
  KILN_RETURN_IF_ERROR(set_int64s(t.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, dims, what));
  KILN_RETURN_IF_ERROR(set_int64s(t.get(), CUDNN_ATTR_TENSOR_STRIDES, strides, what));
  KILN_RETURN_IF_ERROR(set_int64(t.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, uid, what));
  KILN_RETURN_IF_ERROR(
      set_int64(t.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, kTensorAlignment, what));
  KILN_RETURN_IF_ERROR(
      set_attr(t.get(), CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt, what));
  KILN_RETURN_IF_ERROR(finalize(t.get(), what));
  return t;
}

// A pointwise op y = f(x) or y = x + b, its descriptor kept in `parts`.
Result<Descriptor> make_pointwise(DescriptorList& parts, const PointwiseSpec& spec,
                                  cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                  cudnnBackendDescriptor_t y, const std::string& what) {
  KILN_ASSIGN_OR_RETURN(Descriptor pw,
                        Descriptor::create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what + " mode"));
  const cudnnPointwiseMode_t mode = spec.mode;
  KILN_RETURN_IF_ERROR(
      set_attr(pw.get(), CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, what));
  KILN_RETURN_IF_ERROR(set_dtype(pw.get(), CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT, what));
  if (spec.relu_clips) {
    KILN_RETURN_IF_ERROR(
        set_double(pw.get(), CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, spec.lower_clip, what));
    KILN_RETURN_IF_ERROR(
        set_double(pw.get(), CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, spec.upper_clip, what));
    KILN_RETURN_IF_ERROR(set_double(pw.get(), CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE,
                                    spec.lower_clip_slope, what));
  }
  if (spec.swish)
    KILN_RETURN_IF_ERROR(
        set_double(pw.get(), CUDNN_ATTR_POINTWISE_SWISH_BETA, spec.swish_beta, what));
  KILN_RETURN_IF_ERROR(finalize(pw.get(), what + " mode"));

  KILN_ASSIGN_OR_RETURN(Descriptor op,
                        Descriptor::create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what));
  KILN_RETURN_IF_ERROR(
      set_desc(op.get(), CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw.get(), what));
  KILN_RETURN_IF_ERROR(set_desc(op.get(), CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, what));
  if (b != nullptr)
    KILN_RETURN_IF_ERROR(set_desc(op.get(), CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, what));
  KILN_RETURN_IF_ERROR(set_desc(op.get(), CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, what));
  KILN_RETURN_IF_ERROR(finalize(op.get(), what));
  parts.add(std::move(pw));
  return op;
}

// One epilogue step: an add of B or Z, or an activation.
struct EpilogueStep {
  PointwiseSpec spec;
  int64_t operand_uid = 0;  // kUidB / kUidZ for an add, 0 for an activation
  std::string name;
};

// Without a handle (validate_conv_graph) everything but the graph descriptor itself is built.
Result<std::shared_ptr<OpGraph>> build_graph(cudnnHandle_t handle, const ConvProblem& p) {
  auto g = std::make_shared<OpGraph>();
  const cudnnDataType_t io = cudnn_dtype(p.dtype);
  const int64_t out_h = p.out_height(), out_w = p.out_width();

  std::vector<EpilogueStep> steps;
  PointwiseSpec add;
  add.mode = CUDNN_POINTWISE_ADD;
  if (p.has_bias) steps.push_back({add, kUidB, "bias add"});
  if (p.activation != Activation::kNone) {
    KILN_ASSIGN_OR_RETURN(PointwiseSpec s, pointwise_for(p.activation, p.activation_alpha,
                                                         p.activation_beta, "activation"));
    steps.push_back({s, 0, act_name(p.activation)});
  }
  if (p.has_residual) steps.push_back({add, kUidZ, "residual add"});
  if (p.post_activation != Activation::kNone) {
    KILN_ASSIGN_OR_RETURN(PointwiseSpec s,
                          pointwise_for(p.post_activation, p.post_activation_alpha,
                                        p.post_activation_beta, "post_activation"));
    steps.push_back({s, 0, std::string("post ") + act_name(p.post_activation)});
  }
  g->summary = "conv";
  for (const auto& s : steps) g->summary += "+" + s.name;

  KILN_ASSIGN_OR_RETURN(Descriptor x, make_tensor(kUidX, io, p.batch, p.in_channels, p.in_height,
                                                  p.in_width, false, "X tensor"));
  KILN_ASSIGN_OR_RETURN(Descriptor w,
                        make_tensor(kUidW, io, p.out_channels, p.in_channels / p.groups,
                                    p.kernel_height, p.kernel_width, false, "W tensor"));
  // Every intermediate is a virtual float32 tensor: the epilogue runs on the accumulator.
  int64_t next_virtual = kUidVirtual;
  auto output_of_step = [&](bool last, const std::string& what) -> Result<Descriptor> {
    if (last)
      return make_tensor(kUidY, io, p.batch, p.out_channels, out_h, out_w, false, "Y tensor");
    return make_tensor(next_virtual++, CUDNN_DATA_FLOAT, p.batch, p.out_channels, out_h, out_w,
                       true, what);
  };

  KILN_ASSIGN_OR_RETURN(
      Descriptor conv_desc,
      Descriptor::create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, "convolution descriptor"));
  {
    const std::string what = "convolution descriptor";
    const int64_t spatial = 2;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;  // ONNX Conv does not flip W
    KILN_RETURN_IF_ERROR(
        set_dtype(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_DATA_FLOAT, what));
    KILN_RETURN_IF_ERROR(set_attr(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_CONV_MODE,
                                  CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode, what));
    KILN_RETURN_IF_ERROR(
        set_int64(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, spatial, what));
    KILN_RETURN_IF_ERROR(set_int64s(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_DILATIONS,
                                    {p.dilations[0], p.dilations[1]}, what));
    KILN_RETURN_IF_ERROR(set_int64s(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES,
                                    {p.strides[0], p.strides[1]}, what));
    KILN_RETURN_IF_ERROR(set_int64s(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS,
                                    {p.pads_begin[0], p.pads_begin[1]}, what));
    KILN_RETURN_IF_ERROR(set_int64s(conv_desc.get(), CUDNN_ATTR_CONVOLUTION_POST_PADDINGS,
                                    {p.pads_end[0], p.pads_end[1]}, what));
    KILN_RETURN_IF_ERROR(finalize(conv_desc.get(), what));
  }

  KILN_ASSIGN_OR_RETURN(Descriptor conv_out, output_of_step(steps.empty(), "convolution output"));
  std::vector<cudnnBackendDescriptor_t> ops;
  {
    const std::string what = "convolution op";
    KILN_ASSIGN_OR_RETURN(
        Descriptor op,
        Descriptor::create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, what));
    const float alpha = 1.f, beta = 0.f;
    KILN_RETURN_IF_ERROR(
        set_desc(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x.get(), what));
    KILN_RETURN_IF_ERROR(
        set_desc(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w.get(), what));
    KILN_RETURN_IF_ERROR(
        set_desc(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, conv_out.get(), what));
    KILN_RETURN_IF_ERROR(set_desc(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
                                  conv_desc.get(), what));
    KILN_RETURN_IF_ERROR(set_attr(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
                                  CUDNN_TYPE_FLOAT, 1, &alpha, what));
    KILN_RETURN_IF_ERROR(set_attr(op.get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
                                  CUDNN_TYPE_FLOAT, 1, &beta, what));
    KILN_RETURN_IF_ERROR(finalize(op.get(), what));
    ops.push_back(g->parts.add(std::move(op)));
  }
  g->parts.add(std::move(x));
  g->parts.add(std::move(w));
  g->parts.add(std::move(conv_desc));

  cudnnBackendDescriptor_t current = g->parts.add(std::move(conv_out));
  for (size_t i = 0; i < steps.size(); ++i) {
    const EpilogueStep& step = steps[i];
    cudnnBackendDescriptor_t operand = nullptr;
    if (step.operand_uid == kUidB) {
      KILN_ASSIGN_OR_RETURN(Descriptor b,
                            make_tensor(kUidB, io, 1, p.out_channels, 1, 1, false, "B tensor"));
      operand = g->parts.add(std::move(b));
    } else if (step.operand_uid == kUidZ) {
      KILN_ASSIGN_OR_RETURN(Descriptor z, make_tensor(kUidZ, io, p.batch, p.out_channels, out_h,
                                                      out_w, false, "Z tensor"));
      operand = g->parts.add(std::move(z));
    }
    KILN_ASSIGN_OR_RETURN(Descriptor out,
                          output_of_step(i + 1 == steps.size(), step.name + " output"));
    cudnnBackendDescriptor_t out_ptr = g->parts.add(std::move(out));
    KILN_ASSIGN_OR_RETURN(Descriptor op, make_pointwise(g->parts, step.spec, current, operand,
                                                        out_ptr, step.name + " op"));
    ops.push_back(g->parts.add(std::move(op)));
    current = out_ptr;
  }

  if (handle == nullptr) return g;
  const std::string what = "operation graph " + g->summary;
  KILN_ASSIGN_OR_RETURN(g->graph,
                        Descriptor::create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, what));
  KILN_RETURN_IF_ERROR(set_attr(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS,
                                CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(ops.size()),
                                ops.data(), what));
  KILN_RETURN_IF_ERROR(set_attr(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE,
                                1, &handle, what));
  KILN_RETURN_IF_ERROR(finalize(g->graph.get(), what));
  return g;
}

// ---- engines ----------------------------------------------------------------------------------

Result<ConvEngineNotes> engine_notes(cudnnBackendDescriptor_t engine) {
  ConvEngineNotes n;
  cudnnBackendNumericalNote_t numerical[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t count = 0;
  KILN_CUDNN_TRY(
      cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, numerical),
      "reading an engine's numerical notes");
  for (int64_t i = 0; i < std::min<int64_t>(count, CUDNN_NUMERICAL_NOTE_TYPE_COUNT); ++i) {
    switch (numerical[i]) {
      case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:
        n.tensor_cores = true;
        break;
      case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
        n.down_converts_inputs = true;
        break;
      case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION:
        n.reduced_precision_reduction = true;
        break;
      case CUDNN_NUMERICAL_NOTE_FFT:
        n.fft = true;
        break;
      case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC:
        n.nondeterministic = true;
        break;
      case CUDNN_NUMERICAL_NOTE_WINOGRAD:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13:
        n.winograd = true;
        break;
      default:
        break;
    }
  }
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  count = 0;
  KILN_CUDNN_TRY(
      cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                               CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &count, behavior),
      "reading an engine's behavior notes");
  for (int64_t i = 0; i < std::min<int64_t>(count, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT); ++i)
    if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) n.runtime_compiled = true;
  return n;
}

// Whether an engine's numerics suit the problem: float32 without TF32 when the problem says so,
// and never an accumulation below float32.
Status check_numerics(const ConvProblem& p, const ConvEngineNotes& n,
                      const ConvPlanOptions& options) {
  if (p.dtype == DataType::kFloat32 && !p.allow_tf32 && (n.tensor_cores || n.down_converts_inputs))
    return unsupported("uses TF32 or narrower products (" + n.to_string() + "), TF32 is off");
  if (n.reduced_precision_reduction)
    return unsupported("accumulates below float32 (" + n.to_string() + ")");
  if (n.runtime_compiled && !options.allow_runtime_compilation)
    return unsupported("is compiled at run time, which the options exclude");
  return ok_status();
}

// One engine configuration proposed by a heuristic: what a record holds, and its notes.
struct Proposal {
  int64_t engine_id = -1;
  std::vector<std::pair<int64_t, int64_t>> knobs;
  ConvEngineNotes notes;
};

Result<Proposal> read_config(cudnnBackendDescriptor_t config) {
  Proposal out;
  KILN_ASSIGN_OR_RETURN(Descriptor engine,
                        Descriptor::create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, "engine"));
  cudnnBackendDescriptor_t engine_ptr = engine.get();
  int64_t count = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(config, CUDNN_ATTR_ENGINECFG_ENGINE,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &engine_ptr),
                 "reading a configuration's engine");
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX,
                                          CUDNN_TYPE_INT64, 1, &count, &out.engine_id),
                 "reading an engine's global index");
  KILN_ASSIGN_OR_RETURN(out.notes, engine_notes(engine.get()));

  // The caller provides the knob-choice descriptors cuDNN copies the choices into.
  DescriptorList owned;
  std::vector<cudnnBackendDescriptor_t> choices;
  for (int i = 0; i < CUDNN_KNOB_TYPE_COUNTS; ++i) {
    KILN_ASSIGN_OR_RETURN(Descriptor c,
                          Descriptor::create(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, "knob choice"));
    choices.push_back(owned.add(std::move(c)));
  }
  count = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(
                     config, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                     static_cast<int64_t>(choices.size()), &count, choices.data()),
                 "reading a configuration's knob choices");
  for (int64_t i = 0; i < std::min<int64_t>(count, static_cast<int64_t>(choices.size())); ++i) {
    cudnnBackendKnobType_t type{};
    int64_t value = 0, n = 0;
    KILN_CUDNN_TRY(cudnnBackendGetAttribute(choices[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE,
                                            CUDNN_TYPE_KNOB_TYPE, 1, &n, &type),
                   "reading a knob's type");
    KILN_CUDNN_TRY(cudnnBackendGetAttribute(choices[i], CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE,
                                            CUDNN_TYPE_INT64, 1, &n, &value),
                   "reading a knob's value");
    out.knobs.emplace_back(static_cast<int64_t>(type), value);
  }
  return out;
}

// The configurations one heuristic mode proposes, best first.
Result<std::vector<Proposal>> heuristic_proposals(const OpGraph& g, cudnnBackendHeurMode_t mode,
                                                  const char* mode_name) {
  const std::string what = std::string("heuristic ") + mode_name;
  KILN_ASSIGN_OR_RETURN(Descriptor heur,
                        Descriptor::create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, what));
  KILN_RETURN_IF_ERROR(
      set_desc(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g.graph.get(), what));
  KILN_RETURN_IF_ERROR(
      set_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, what));
  KILN_RETURN_IF_ERROR(finalize(heur.get(), what));
  int64_t available = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available, nullptr),
                 "counting the results of the " + what);
  std::vector<Proposal> out;
  if (available <= 0) return out;
  DescriptorList owned;
  std::vector<cudnnBackendDescriptor_t> configs;
  for (int64_t i = 0; i < available; ++i) {
    KILN_ASSIGN_OR_RETURN(Descriptor c, Descriptor::create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR,
                                                           "engine configuration"));
    configs.push_back(owned.add(std::move(c)));
  }
  int64_t returned = 0;
  KILN_CUDNN_TRY(
      cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                               CUDNN_TYPE_BACKEND_DESCRIPTOR, available, &returned, configs.data()),
      "reading the results of the " + what);
  for (int64_t i = 0; i < std::min(returned, available); ++i) {
    auto proposal = read_config(configs[i]);
    if (proposal.ok()) out.push_back(std::move(proposal).value());
  }
  return out;
}

// Mode A's proposals, then the fallback list's that mode A did not make, each once. `reasons`
// collects why a heuristic gave nothing.
std::vector<Proposal> all_proposals(const OpGraph& g, const ConvPlanOptions& options,
                                    std::vector<std::string>* reasons) {
  std::vector<Proposal> out;
  auto merge = [&](cudnnBackendHeurMode_t mode, const char* name) {
    auto list = heuristic_proposals(g, mode, name);
    if (!list.ok()) {
      reasons->push_back(list.status().message());
      return;
    }
    for (auto& p : *list) {
      const bool seen = std::any_of(out.begin(), out.end(), [&](const Proposal& q) {
        return q.engine_id == p.engine_id && q.knobs == p.knobs;
      });
      if (!seen) out.push_back(std::move(p));
    }
  };
  merge(CUDNN_HEUR_MODE_A, "A");
  if (options.use_fallback_heuristic) merge(CUDNN_HEUR_MODE_FALLBACK, "fallback");
  return out;
}

}  // namespace

// ---- ConvPlan ---------------------------------------------------------------------------------

struct ConvPlan::Impl {
  ConvProblem problem;
  ConvPlanRecord record;
  ConvEngineNotes notes;
  std::shared_ptr<OpGraph> graph;  // shared by the candidates of one tuning
  DescriptorList parts;            // engine, knob choices, configuration
  Descriptor plan;
  size_t workspace = 0;
  ~Impl() {
    plan.reset();
    parts.clear();
  }
};

struct ConvPlanAccess {
  static ConvPlan make(std::unique_ptr<ConvPlan::Impl> impl) { return ConvPlan(std::move(impl)); }
};

ConvPlan::ConvPlan(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;
ConvPlan::~ConvPlan() = default;

const ConvProblem& ConvPlan::problem() const { return impl_->problem; }
const ConvPlanRecord& ConvPlan::record() const { return impl_->record; }
const ConvEngineNotes& ConvPlan::notes() const { return impl_->notes; }
size_t ConvPlan::workspace_bytes() const { return impl_->workspace; }

std::string ConvPlan::describe() const {
  std::string s = "cuDNN engine " + std::to_string(impl_->record.engine_id) + " knobs " +
                  knobs_text(impl_->record.knobs);
  const std::string notes = impl_->notes.to_string();
  if (!notes.empty()) s += " (" + notes + ")";
  s += " workspace " + std::to_string(impl_->workspace) + " B for " + impl_->graph->summary;
  return s;
}

Status ConvPlan::execute(cudnnHandle_t handle, cudaStream_t stream, const ConvArgs& args,
                         void* workspace) const {
  const ConvProblem& p = impl_->problem;
  if (handle == nullptr) return invalid_argument("cuDNN convolution: no cudnnHandle_t");
  const size_t esize = dtype_bytes(p.dtype);
  // Fixed-size arrays: this runs once per inference and should not touch the heap itself.
  struct Operand {
    int64_t uid;
    const void* ptr;
    size_t bytes;
    const char* name;
  };
  std::array<Operand, 5> operands;
  int count = 0;
  operands[count++] = {kUidX, args.x, static_cast<size_t>(p.x_elements()) * esize, "x"};
  operands[count++] = {kUidW, args.w, static_cast<size_t>(p.w_elements()) * esize, "w"};
  if (p.has_bias)
    operands[count++] = {kUidB, args.bias, static_cast<size_t>(p.out_channels) * esize, "bias"};
  if (p.has_residual)
    operands[count++] = {kUidZ, args.z, static_cast<size_t>(p.y_elements()) * esize, "z"};
  const size_t y_bytes = static_cast<size_t>(p.y_elements()) * esize;
  const auto y_begin = reinterpret_cast<uintptr_t>(args.y);
  if (args.y == nullptr || y_begin % kTensorAlignment != 0)
    return invalid_argument("cuDNN convolution: y is null or not 16-byte aligned");
  for (int i = 0; i < count; ++i) {
    const Operand& o = operands[static_cast<size_t>(i)];
    const auto begin = reinterpret_cast<uintptr_t>(o.ptr);
    if (o.ptr == nullptr || begin % kTensorAlignment != 0)
      return invalid_argument(std::string("cuDNN convolution: ") + o.name +
                              " is null or not 16-byte aligned");
    if (begin < y_begin + y_bytes && y_begin < begin + o.bytes)
      return invalid_argument(std::string("cuDNN convolution: y overlaps ") + o.name);
  }
  if (impl_->workspace > 0 &&
      (workspace == nullptr || reinterpret_cast<uintptr_t>(workspace) % kTensorAlignment != 0))
    return invalid_argument("cuDNN convolution: the plan needs " +
                            std::to_string(impl_->workspace) +
                            " bytes of 16-byte aligned workspace");
  operands[count++] = {kUidY, args.y, y_bytes, "y"};

  std::array<int64_t, 5> uids{};
  std::array<void*, 5> pointers{};
  for (int i = 0; i < count; ++i) {
    uids[static_cast<size_t>(i)] = operands[static_cast<size_t>(i)].uid;
    // cuDNN's variant pack takes void* for inputs too.
    pointers[static_cast<size_t>(i)] = const_cast<void*>(operands[static_cast<size_t>(i)].ptr);
  }
  KILN_CUDNN_TRY(cudnnSetStream(handle, stream), "cudnnSetStream");
  const std::string what = "variant pack";
  KILN_ASSIGN_OR_RETURN(Descriptor pack,
                        Descriptor::create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, what));
  KILN_RETURN_IF_ERROR(set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                                count, uids.data(), what));
  KILN_RETURN_IF_ERROR(set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                CUDNN_TYPE_VOID_PTR, count, pointers.data(), what));
  KILN_RETURN_IF_ERROR(set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR,
                                1, &workspace, what));
  KILN_RETURN_IF_ERROR(finalize(pack.get(), what));
  KILN_CUDNN_TRY(cudnnBackendExecute(handle, impl_->plan.get(), pack.get()),
                 "executing " + describe());
  return ok_status();
}

// ---- planning ---------------------------------------------------------------------------------

namespace {

// The execution plan of one engine configuration, built from what a record holds, so a plan
// made from the heuristics and one replayed from its record are made the same way.
Result<ConvPlan> build_plan(cudnnHandle_t handle, const ConvProblem& p,
                            const std::shared_ptr<OpGraph>& graph, const ConvPlanRecord& record,
                            const ConvPlanOptions& options) {
  auto impl = std::make_unique<ConvPlan::Impl>();
  impl->problem = p;
  impl->record = record;
  impl->graph = graph;
  const std::string engine_what = "engine " + std::to_string(record.engine_id);

  KILN_ASSIGN_OR_RETURN(Descriptor engine,
                        Descriptor::create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, engine_what));
  KILN_RETURN_IF_ERROR(
      set_desc(engine.get(), CUDNN_ATTR_ENGINE_OPERATION_GRAPH, graph->graph.get(), engine_what));
  KILN_RETURN_IF_ERROR(
      set_int64(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, record.engine_id, engine_what));
  KILN_RETURN_IF_ERROR(finalize(engine.get(), engine_what));
  KILN_ASSIGN_OR_RETURN(impl->notes, engine_notes(engine.get()));
  {
    Status numerics = check_numerics(p, impl->notes, options);
    if (!numerics.ok()) return numerics.with_context(engine_what);
  }

  std::vector<cudnnBackendDescriptor_t> choices;
  for (const auto& [type, value] : record.knobs) {
    const std::string what = engine_what + " knob " + std::to_string(type);
    KILN_ASSIGN_OR_RETURN(Descriptor c,
                          Descriptor::create(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, what));
    const auto knob_type = static_cast<cudnnBackendKnobType_t>(type);
    KILN_RETURN_IF_ERROR(set_attr(c.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE,
                                  1, &knob_type, what));
    KILN_RETURN_IF_ERROR(set_int64(c.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, value, what));
    KILN_RETURN_IF_ERROR(finalize(c.get(), what));
    choices.push_back(impl->parts.add(std::move(c)));
  }
  const std::string cfg_what = engine_what + " configuration " + knobs_text(record.knobs);
  KILN_ASSIGN_OR_RETURN(Descriptor config,
                        Descriptor::create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, cfg_what));
  KILN_RETURN_IF_ERROR(set_desc(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, engine.get(), cfg_what));
  if (!choices.empty())
    KILN_RETURN_IF_ERROR(set_attr(config.get(), CUDNN_ATTR_ENGINECFG_KNOB_CHOICES,
                                  CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                  static_cast<int64_t>(choices.size()), choices.data(), cfg_what));
  KILN_RETURN_IF_ERROR(finalize(config.get(), cfg_what));

  const std::string plan_what = "execution plan of " + cfg_what;
  KILN_ASSIGN_OR_RETURN(impl->plan,
                        Descriptor::create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, plan_what));
  KILN_RETURN_IF_ERROR(set_attr(impl->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE,
                                CUDNN_TYPE_HANDLE, 1, &handle, plan_what));
  KILN_RETURN_IF_ERROR(
      set_desc(impl->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, config.get(), plan_what));
  KILN_RETURN_IF_ERROR(finalize(impl->plan.get(), plan_what));
  int64_t workspace = 0, count = 0;
  KILN_CUDNN_TRY(
      cudnnBackendGetAttribute(impl->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                               CUDNN_TYPE_INT64, 1, &count, &workspace),
      "reading the workspace size of the " + plan_what);
  if (workspace < 0) return internal_error("cuDNN reported a negative workspace size");
  impl->workspace = static_cast<size_t>(workspace);
  if (impl->workspace > options.max_workspace_bytes)
    return unsupported(engine_what + " needs " + std::to_string(workspace) +
                       " bytes of workspace, above the limit of " +
                       std::to_string(options.max_workspace_bytes));
  impl->parts.add(std::move(engine));
  impl->parts.add(std::move(config));
  return ConvPlanAccess::make(std::move(impl));
}

// What planning starts with: the problem checked, cuDNN 9, the record fields of this process.
struct PlanningContext {
  std::shared_ptr<OpGraph> graph;
  int64_t cudnn_version = 0;
  int compute_capability = 0;
  std::string key;
};

Result<PlanningContext> start_planning(cudnnHandle_t handle, const ConvProblem& p) {
  KILN_RETURN_IF_ERROR(check_conv_problem(p));
  KILN_RETURN_IF_ERROR(check_cudnn_major());
  if (handle == nullptr) return invalid_argument("cuDNN convolution: no cudnnHandle_t");
  PlanningContext c;
  c.cudnn_version = cudnn_runtime_version();
  KILN_ASSIGN_OR_RETURN(c.compute_capability, current_compute_capability());
  c.key = conv_problem_key(p);
  auto graph = build_graph(handle, p);
  if (!graph.ok()) {
    const Status& s = graph.status();
    if (s.code() == StatusCode::kUnsupported)
      return unsupported("cuDNN " + version_string(c.cudnn_version) + " cannot express " + c.key +
                         ": " + s.message());
    return s;
  }
  c.graph = std::move(graph).value();
  return c;
}

ConvPlanRecord record_for(const PlanningContext& c, const Proposal& proposal) {
  ConvPlanRecord r;
  r.cudnn_version = c.cudnn_version;
  r.compute_capability = c.compute_capability;
  r.problem_key = c.key;
  r.engine_id = proposal.engine_id;
  r.knobs = proposal.knobs;
  return r;
}

Status no_engine(const PlanningContext& c, const std::vector<std::string>& reasons,
                 size_t proposals) {
  std::string msg = "cuDNN " + version_string(c.cudnn_version) + " has no engine for " +
                    c.graph->summary + " on " + c.key + " (" + std::to_string(proposals) +
                    " configurations proposed)";
  const size_t shown = std::min<size_t>(reasons.size(), 4);
  for (size_t i = 0; i < shown; ++i) msg += (i == 0 ? ": " : "; ") + reasons[i];
  if (reasons.size() > shown) msg += "; ...";
  return unsupported(msg);
}

// Builds plans for the proposals in order until `wanted` are made (or the proposals run out).
// Each attempt that fails adds its reason to `reasons` and, when `refused` is given, an entry.
std::vector<ConvPlan> plans_in_order(cudnnHandle_t handle, const ConvProblem& p,
                                     const PlanningContext& c, const ConvPlanOptions& options,
                                     size_t wanted, size_t* proposal_count,
                                     std::vector<std::string>* reasons,
                                     std::vector<ConvCandidateTiming>* refused) {
  std::vector<ConvPlan> plans;
  const std::vector<Proposal> proposals = all_proposals(*c.graph, options, reasons);
  *proposal_count = proposals.size();
  for (const Proposal& proposal : proposals) {
    if (plans.size() >= wanted) break;
    const ConvPlanRecord record = record_for(c, proposal);
    // The proposal's own notes rule out unsuitable engines before any compilation.
    Status numerics = check_numerics(p, proposal.notes, options);
    Result<ConvPlan> plan = numerics.ok() ? build_plan(handle, p, c.graph, record, options)
                                          : Result<ConvPlan>(numerics.with_context(
                                                "engine " + std::to_string(proposal.engine_id)));
    if (plan.ok()) {
      plans.push_back(std::move(plan).value());
      continue;
    }
    reasons->push_back(plan.status().message());
    if (refused != nullptr) {
      ConvCandidateTiming t;
      t.record = record;
      t.notes = proposal.notes;
      t.status = plan.status();
      refused->push_back(std::move(t));
    }
  }
  return plans;
}

}  // namespace

Status validate_conv_graph(const ConvProblem& problem) {
  KILN_RETURN_IF_ERROR(check_conv_problem(problem));
  KILN_RETURN_IF_ERROR(check_cudnn_major());
  auto graph = build_graph(nullptr, problem);
  return graph.ok() ? ok_status() : graph.status();
}

Result<ConvPlan> make_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                const ConvPlanOptions& options) {
  KILN_ASSIGN_OR_RETURN(PlanningContext c, start_planning(handle, problem));
  std::vector<std::string> reasons;
  size_t proposals = 0;
  std::vector<ConvPlan> plans =
      plans_in_order(handle, problem, c, options, 1, &proposals, &reasons, nullptr);
  if (plans.empty()) return no_engine(c, reasons, proposals);
  return std::move(plans.front());
}

Result<ConvPlan> replay_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                  const std::string& record_text) {
  KILN_ASSIGN_OR_RETURN(ConvPlanRecord record, ConvPlanRecord::parse(record_text));
  return replay_conv_plan(handle, problem, record);
}

Result<ConvPlan> replay_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                  const ConvPlanRecord& record) {
  KILN_RETURN_IF_ERROR(check_conv_problem(problem));
  KILN_RETURN_IF_ERROR(check_cudnn_major());
  const std::string key = conv_problem_key(problem);
  if (record.problem_key != key)
    return invalid_argument("cuDNN convolution plan record is for " + record.problem_key +
                            ", not for " + key);
  const int64_t version = cudnn_runtime_version();
  if (record.cudnn_version != version)
    return incompatible("cuDNN convolution plan record was chosen with cuDNN " +
                        version_string(record.cudnn_version) + " but this process loaded cuDNN " +
                        version_string(version) + ": tune again");
  KILN_ASSIGN_OR_RETURN(int cc, current_compute_capability());
  if (record.compute_capability != cc)
    return incompatible("cuDNN convolution plan record was chosen on a compute capability " +
                        std::to_string(record.compute_capability / 10) + "." +
                        std::to_string(record.compute_capability % 10) + " GPU, this one is " +
                        std::to_string(cc / 10) + "." + std::to_string(cc % 10) + ": tune again");
  KILN_ASSIGN_OR_RETURN(PlanningContext c, start_planning(handle, problem));
  // The record's own configuration, whatever the options' workspace limit: it was accepted
  // when it was chosen.
  ConvPlanOptions options;
  options.max_workspace_bytes = std::numeric_limits<size_t>::max();
  Result<ConvPlan> plan = build_plan(handle, problem, c.graph, record, options);
  if (!plan.ok())
    return incompatible("cuDNN " + version_string(version) +
                        " no longer takes the recorded engine " + std::to_string(record.engine_id) +
                        " (knobs " + knobs_text(record.knobs) + ") for " + key + ": " +
                        plan.status().message());
  return plan;
}

Result<ConvTuneResult> tune_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                      cudaStream_t stream, const ConvTuneOptions& options) {
  if (options.max_candidates < 1 || options.timed_runs < 1 || options.warmup_runs < 0)
    return invalid_argument("cuDNN convolution tuning: max_candidates and timed_runs must be >= 1");
  KILN_ASSIGN_OR_RETURN(PlanningContext c, start_planning(handle, problem));
  std::vector<std::string> reasons;
  std::vector<ConvCandidateTiming> timings;
  size_t proposals = 0;
  std::vector<ConvPlan> plans =
      plans_in_order(handle, problem, c, options.plan, static_cast<size_t>(options.max_candidates),
                     &proposals, &reasons, &timings);
  if (plans.empty()) return no_engine(c, reasons, proposals);

  // Buffers: the caller's, or a constant non-zero, finite pattern (0x3c bytes: 1.06 in float16,
  // 0.0115 in bfloat16 and float32), so no engine meets NaNs or denormals while timed.
  const size_t esize = dtype_bytes(problem.dtype);
  const ConvArgs given = options.buffers != nullptr ? *options.buffers : ConvArgs{};
  DeviceBuffer x_buf, w_buf, b_buf, z_buf, y_buf, workspace_buf;
  ConvArgs args = given;
  auto provide = [&](const void* given_ptr, DeviceBuffer& buf, size_t bytes, const char* what,
                     const void** out) -> Status {
    if (given_ptr != nullptr) return ok_status();
    KILN_RETURN_IF_ERROR(buf.allocate(bytes, what));
    KILN_CUDA_TRY(cudaMemsetAsync(buf.get(), 0x3c, bytes, stream), "filling the tuning input");
    *out = buf.get();
    return ok_status();
  };
  const size_t y_bytes = static_cast<size_t>(problem.y_elements()) * esize;
  KILN_RETURN_IF_ERROR(provide(given.x, x_buf, problem.x_elements() * esize, "input", &args.x));
  KILN_RETURN_IF_ERROR(provide(given.w, w_buf, problem.w_elements() * esize, "weights", &args.w));
  if (problem.has_bias)
    KILN_RETURN_IF_ERROR(
        provide(given.bias, b_buf, problem.out_channels * esize, "bias", &args.bias));
  if (problem.has_residual)
    KILN_RETURN_IF_ERROR(provide(given.z, z_buf, y_bytes, "residual", &args.z));
  if (given.y == nullptr) {
    KILN_RETURN_IF_ERROR(y_buf.allocate(y_bytes, "output"));
    args.y = y_buf.get();
  }
  size_t workspace = 0;
  for (const ConvPlan& plan : plans) workspace = std::max(workspace, plan.workspace_bytes());
  KILN_RETURN_IF_ERROR(workspace_buf.allocate(workspace, "workspace"));

  std::vector<Event> events(static_cast<size_t>(options.timed_runs) + 1);
  for (Event& e : events) KILN_RETURN_IF_ERROR(e.create());

  const size_t first_timed = timings.size();
  int best = -1;
  for (const ConvPlan& plan : plans) {
    ConvCandidateTiming t;
    t.record = plan.record();
    t.notes = plan.notes();
    t.workspace_bytes = plan.workspace_bytes();
    Status run = ok_status();
    for (int i = 0; i < options.warmup_runs && run.ok(); ++i)
      run = plan.execute(handle, stream, args, workspace_buf.get());
    // The timed runs are queued back to back, an event between each two, so the device never
    // waits for the host and each interval is one convolution.
    if (run.ok()) {
      KILN_CUDA_TRY(cudaEventRecord(events[0].get(), stream), "cudaEventRecord");
      for (int i = 0; i < options.timed_runs && run.ok(); ++i) {
        run = plan.execute(handle, stream, args, workspace_buf.get());
        KILN_CUDA_TRY(cudaEventRecord(events[static_cast<size_t>(i) + 1].get(), stream),
                      "cudaEventRecord");
      }
    }
    // A failed launch leaves nothing behind; a fault inside a kernel poisons the context, so
    // that ends the tuning.
    KILN_CUDA_TRY(cudaStreamSynchronize(stream), "running " + plan.describe());
    if (run.ok()) {
      std::vector<double> ms;
      for (int i = 0; i < options.timed_runs; ++i) {
        float elapsed = 0;
        KILN_CUDA_TRY(cudaEventElapsedTime(&elapsed, events[static_cast<size_t>(i)].get(),
                                           events[static_cast<size_t>(i) + 1].get()),
                      "cudaEventElapsedTime");
        ms.push_back(elapsed);
      }
      std::sort(ms.begin(), ms.end());
      const size_t n = ms.size();
      t.median_ms = n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
      t.min_ms = ms.front();
    } else {
      t.status = run;
    }
    timings.push_back(std::move(t));
    const int index = static_cast<int>(timings.size()) - 1;
    if (timings.back().median_ms >= 0 &&
        (best < 0 || timings.back().median_ms < timings[static_cast<size_t>(best)].median_ms))
      best = index;
  }
  if (best < 0) {
    std::string msg = "cuDNN convolution tuning: no plan for " + c.key + " ran";
    for (size_t i = first_timed; i < timings.size(); ++i)
      msg += (i == first_timed ? ": " : "; ") + timings[i].status.message();
    return internal_error(msg);
  }
  const size_t best_plan = static_cast<size_t>(best) - first_timed;
  return ConvTuneResult{std::move(plans[best_plan]), std::move(timings), best};
}

}  // namespace kiln::cuda
