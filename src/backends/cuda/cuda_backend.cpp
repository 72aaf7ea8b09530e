#include "backends/cuda/cuda_backend.h"

#include "backends/cuda/cuda_device.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "backends/reference/reference_backend.h"

namespace kiln {

namespace {
class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    for (auto entries : {cuda::device_copy_entries(), cuda::unary_entries(), cuda::matmul_entries(), cuda::conv_entries(),
                         cuda::binary_entries(), cuda::cast_entries(), cuda::fused_pointwise_entries(), cuda::norm_entries(),
                         cuda::softmax_entries(), cuda::reduce_entries(), cuda::copy_entries(), cuda::gather_nd_entries(),
                         cuda::shape_op_entries(), cuda::attention_entries(), cuda::pool_entries(), cuda::logic_entries()}) {
      for (KernelEntry& e : entries) table_.add(std::move(e));
    }
    // Fallbacks after every CUDA kernel (KernelTable::find takes the first that supports): they
    // run in host memory, with the copies the builder inserts around them.
    KernelTable reference;
    register_reference_kernels(reference);
    for (KernelEntry e : reference.entries()) {
      e.backend = "reference";
      table_.add(std::move(e));
    }
  }
  std::string name() const override { return "cuda"; }
  // The GPU model and compute capability, driver, CUDA runtime, cuDNN and cuBLASLt: an engine's
  // kernels and tuning were chosen for them.
  std::string device_signature() const override { return cuda::cuda_device_signature(); }
  // The GPU and the libraries must be the same; the driver may differ (cuda_signature_mismatch).
  std::optional<std::string> device_mismatch(const std::string& built_for) const override {
    return cuda::cuda_signature_mismatch(built_for, device_signature());
  }
  Status available() const override { return cuda::cuda_device_status(); }
  // fp16 and bf16: the device layers compute on 16-bit tensors (builder/precision.h). Every GPU
  // kiln builds for (sm_90) has tensor cores for both.
  Status check_precision(const std::string& precision) const override {
    if (precision == "fp32" || precision == "fp16" || precision == "bf16") return ok_status();
    return Backend::check_precision(precision);
  }
  const KernelTable& kernels() const override { return table_; }
  const Device* device() const override { return &device_; }
  // cuDNN's convolutions and their fused epilogues run on NHWC.
  bool prefers_channels_last() const override { return true; }

 private:
  KernelTable table_;
  cuda::CudaDevice device_;
};
}  // namespace

const Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace kiln
