// 2-D convolutions through cuDNN 9's graph API (the backend descriptors of cudnn_graph.h), with
// FusedConv's epilogue in the same cuDNN graph (docs/fused_ops.md):
//
//     Y = post_activation(activation(conv(X, W) + B) + Z)
//
// Activations X, Y and Z are NHWC (channels last), weights KRSC (K × R × S × C/groups), the bias
// one value per output channel. float16 and bfloat16 accumulate in float32; float32 may use TF32
// tensor cores when the problem allows it. The epilogue's intermediates are float32 virtual
// tensors: it runs on the accumulator and only Y is rounded to the dtype (the unfused ops round
// after every step: results differ by that rounding only).
//
// A plan is made once per problem (shape, dtype, epilogue): the operation graph is built, cuDNN's
// heuristics (mode A, then the fallback list) rank engine configurations, and the first that
// finalizes into an execution plan is taken (make_conv_plan), or the top N are timed on the
// device and the fastest kept (tune_conv_plan). Either way the choice is a ConvPlanRecord: the
// engine's global index and knob choices plus the cuDNN version and compute capability, which a
// timing cache stores as text and replay_conv_plan rebuilds exactly, refusing a record that no
// longer applies (another cuDNN, another GPU, another problem, an engine that no longer takes
// the graph) with a sentence that says which.
//
// Where cuDNN has no engine for the fused graph, or cuDNN's pointwise ops cannot express an
// activation (HardSigmoid, HardSwish), planning fails with StatusCode::kUnsupported: the caller
// then plans the convolution alone (or with fewer epilogue steps) and runs the rest with kiln's
// own pointwise kernels.
//
// Plans hold only host-side cuDNN descriptors; execution takes the caller's cudnnHandle_t,
// stream and workspace (workspace_bytes() of device memory), so nothing is allocated on the
// device at run time.
#pragma once

#include <cudnn_graph.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/activation.h"
#include "kiln/dtype.h"
#include "kiln/status.h"

namespace kiln::cuda {

// One convolution with its epilogue. Spatial pairs are (height, width).
struct ConvProblem {
  DataType dtype = DataType::kFloat16;  // X, W, B, Z and Y alike: float32, float16 or bfloat16
  int64_t batch = 1;                    // N
  int64_t in_channels = 1;              // C
  int64_t in_height = 1, in_width = 1;  // H, W
  int64_t out_channels = 1;             // K
  int64_t kernel_height = 1, kernel_width = 1;  // R, S
  int64_t groups = 1;  // C and K divisible by it; groups == C == K is depthwise
  std::array<int64_t, 2> strides = {1, 1};
  std::array<int64_t, 2> dilations = {1, 1};
  std::array<int64_t, 2> pads_begin = {0, 0};  // top, left
  std::array<int64_t, 2> pads_end = {0, 0};    // bottom, right
  // float32 only: whether TF32 tensor cores may compute the products.
  bool allow_tf32 = true;

  bool has_bias = false;
  Activation activation = Activation::kNone;
  float activation_alpha = 0, activation_beta = 0;  // as FusedConv's attributes (defaults applied)
  bool has_residual = false;                        // Z, shaped like Y
  Activation post_activation = Activation::kNone;
  float post_activation_alpha = 0, post_activation_beta = 0;

  int64_t out_height() const;  // P; <= 0 for a kernel larger than the padded input
  int64_t out_width() const;   // Q
  bool has_epilogue() const {
    return has_bias || activation != Activation::kNone || has_residual ||
           post_activation != Activation::kNone;
  }
  // Element counts of X, W, Y (Z has Y's, B has out_channels).
  int64_t x_elements() const { return batch * in_height * in_width * in_channels; }
  int64_t w_elements() const {
    return out_channels * kernel_height * kernel_width * (in_channels / groups);
  }
  int64_t y_elements() const { return batch * out_height() * out_width() * out_channels; }
  // Multiply-adds of the convolution (flops are twice this).
  double macs() const;
};

// Checks a problem without touching cuDNN: dtypes, sizes, groups, padding, and that cuDNN's
// pointwise ops can express both activations (kUnsupported for HardSigmoid and HardSwish, and for
// a Clip whose min exceeds its max).
Status check_conv_problem(const ConvProblem& p);

// check_conv_problem, then builds and finalizes every cuDNN descriptor of the problem's graph
// (tensors, convolution, pointwise ops) except the operation graph itself, which needs a device:
// cuDNN's own checks of shapes, strides, groups, paddings and pointwise modes, without a GPU.
Status validate_conv_graph(const ConvProblem& p);

// The problem as one line without spaces, e.g.
// "float16,n2,c64,h14,w14,k64,r3,s3,g1,st1x1,dl1x1,pb1x1,pe1x1,bias,act=Relu(0;0),post=(0;0)":
// records and timing caches use it as the problem's name.
std::string conv_problem_key(const ConvProblem& p);

// What the plan's engine does to the numbers (cuDNN's numerical and behaviour notes).
struct ConvEngineNotes {
  bool tensor_cores = false;
  bool down_converts_inputs = false;         // for float32: TF32 or narrower products
  bool reduced_precision_reduction = false;  // accumulates below float32 (never chosen)
  bool winograd = false;
  bool fft = false;
  bool nondeterministic = false;
  bool runtime_compiled = false;  // built by NVRTC when the plan is finalized (slow to make)
  std::string to_string() const;  // "tensor-cores,winograd" ("" when none)
};

// The serializable choice of an engine configuration for one problem.
struct ConvPlanRecord {
  static constexpr const char* kMagic = "kiln-cudnn-conv/1";
  int64_t cudnn_version = 0;   // cudnnGetVersion() when chosen, e.g. 91400 for 9.14.0
  int compute_capability = 0;  // major * 10 + minor of the device, e.g. 90
  std::string problem_key;     // conv_problem_key() of the problem it was chosen for
  int64_t engine_id = -1;      // CUDNN_ATTR_ENGINE_GLOBAL_INDEX
  std::vector<std::pair<int64_t, int64_t>> knobs;  // (cudnnBackendKnobType_t, value), in order

  // One line: "kiln-cudnn-conv/1 cudnn=91400 sm=90 engine=12 knobs=2:5,14:3 problem=<key>
  // check=<16 hex digits>", the check an FNV-1a hash of everything before it.
  std::string to_string() const;
  // Parses to_string()'s line; kCorrupt for anything else (a changed byte fails the check).
  static Result<ConvPlanRecord> parse(const std::string& text);
  bool operator==(const ConvPlanRecord&) const = default;
};

// The device pointers of one execution, each 16-byte aligned. bias and z are read only when the
// problem has them (else they may be null); y must not overlap x, w, bias or z.
struct ConvArgs {
  const void* x = nullptr;
  const void* w = nullptr;
  const void* bias = nullptr;
  const void* z = nullptr;
  void* y = nullptr;
};

// A finalized cuDNN execution plan for one problem. Movable, not copyable; execute() is const and
// may run concurrently from several threads as long as each passes its own cudnnHandle_t (cuDNN
// binds the stream to the handle).
class ConvPlan {
 public:
  ConvPlan(ConvPlan&&) noexcept;
  ConvPlan& operator=(ConvPlan&&) noexcept;
  ~ConvPlan();

  const ConvProblem& problem() const;
  const ConvPlanRecord& record() const;
  const ConvEngineNotes& notes() const;
  // Device memory execute() needs as its workspace (0: none; a null workspace is then fine).
  size_t workspace_bytes() const;
  // "engine 12 knobs 2:5,14:3 (tensor-cores) workspace 1024 B" for logs and `inspect`.
  std::string describe() const;

  // Enqueues the convolution on `stream` (set on `handle`, which must belong to the device the
  // plan was made on; it need not be the handle the plan was made with): invalid argument for a
  // missing or misaligned pointer, y overlapping an input, or a workspace missing when one is
  // needed; cuDNN's failure otherwise. Creates one host-side cuDNN descriptor (the variant pack)
  // per call; nothing on the device.
  Status execute(cudnnHandle_t handle, cudaStream_t stream, const ConvArgs& args,
                 void* workspace) const;

  struct Impl;  // defined in cudnn_conv.cpp

 private:
  explicit ConvPlan(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct ConvPlanAccess;
};

struct ConvPlanOptions {
  // Skip engine configurations that need more workspace than this.
  size_t max_workspace_bytes = size_t{1} << 30;
  // Allow engines that NVRTC compiles while the plan is finalized (the fused runtime-fusion
  // engines among them: without them few fused graphs have an engine). Compiling takes from
  // tens of milliseconds to seconds per plan.
  bool allow_runtime_compilation = true;
  // Also take the configurations of cuDNN's fallback heuristic after mode A's: slower engines
  // that cover shapes mode A's do not (odd channel counts, some grouped convolutions).
  bool use_fallback_heuristic = true;
};

// The heuristic choice: the first configuration (mode A's ranking, then the fallback list) that
// passes the problem's numerics (no TF32 unless allowed, never reduced-precision accumulation)
// and finalizes. kUnsupported when none does, with cuDNN's reasons.
Result<ConvPlan> make_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                const ConvPlanOptions& options = {});

// Rebuilds the plan a record names. kCorrupt for a record that does not parse, kIncompatible
// for another cuDNN version or GPU or an engine configuration cuDNN no longer finalizes for this
// problem, kInvalidArgument for a record of another problem.
Result<ConvPlan> replay_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                  const std::string& record_text);
Result<ConvPlan> replay_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                  const ConvPlanRecord& record);

struct ConvTuneOptions {
  ConvPlanOptions plan;
  int max_candidates = 8;  // the first N configurations that finalize, in heuristic order
  int warmup_runs = 3;
  int timed_runs = 10;  // each timed alone with CUDA events; the median counts
  // Device buffers to time with; null members (or no `buffers`) are allocated and filled with a
  // constant non-zero pattern for the tuning and freed afterwards.
  const ConvArgs* buffers = nullptr;
};

// One timed (or refused) configuration.
struct ConvCandidateTiming {
  ConvPlanRecord record;
  ConvEngineNotes notes;
  size_t workspace_bytes = 0;
  double median_ms = -1;  // < 0 when it could not run
  double min_ms = -1;
  Status status;  // why it could not run
};

struct ConvTuneResult {
  ConvPlan best;                             // the lowest median
  std::vector<ConvCandidateTiming> timings;  // every candidate, heuristic order
  int best_index = -1;                       // best's entry in timings
};

// Times up to max_candidates configurations on `stream` and keeps the fastest. Synchronizes the
// stream. kUnsupported when no configuration finalizes (as make_conv_plan).
Result<ConvTuneResult> tune_conv_plan(cudnnHandle_t handle, const ConvProblem& problem,
                                      cudaStream_t stream, const ConvTuneOptions& options = {});

// cudnnGetVersion() of the loaded library, e.g. 91400 for 9.14.0.
int64_t cudnn_runtime_version();

}  // namespace kiln::cuda
