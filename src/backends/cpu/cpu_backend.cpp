#include "backends/cpu/cpu_backend.h"

#include "backends/cpu/dnnl_common.h"
#include "backends/cpu/kernels/cpu_kernels.h"
#include "backends/reference/reference_backend.h"

namespace kiln {

namespace {
class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    for (KernelEntry e : {cpu::conv_entry(), cpu::fused_conv_entry(), cpu::matmul_entry(), cpu::gemm_entry(),
                          cpu::fused_matmul_entry(), cpu::max_pool_entry(), cpu::kiln_max_pool_entry()}) {
      table_.add(std::move(e));
    }
    for (KernelEntry e : {cpu::layer_normalization_entry(), cpu::rms_normalization_entry(), cpu::split_entry(),
                          cpu::concat_entry(), cpu::transpose_entry(), cpu::gather_entry(), cpu::slice_entry()}) {
      table_.add(std::move(e));
    }
    table_.add(cpu::fused_pointwise_entry());
    table_.add(cpu::global_average_pool_entry());
    for (auto entries : {cpu::unary_entries(), cpu::binary_entries(), cpu::reduce_entries()}) {
      for (KernelEntry& e : entries) table_.add(std::move(e));
    }
    table_.add(cpu::attention_entry());
    table_.add(cpu::softmax_entry());
    table_.add(cpu::log_softmax_entry());
    // Fallbacks come after every oneDNN kernel: KernelTable::find takes the first that supports.
    KernelTable reference;
    register_reference_kernels(reference);
    for (KernelEntry e : reference.entries()) {
      e.backend = "reference";
      table_.add(std::move(e));
    }
  }
  std::string name() const override { return "cpu"; }
  // oneDNN dispatches on the ISA at run time; an engine's kernels were chosen for this one.
  std::string device_signature() const override { return "x86_64 cpu (" + cpu::dnnl_isa_name() + ")"; }
  Status available() const override { return ok_status(); }
  const KernelTable& kernels() const override { return table_; }
  // oneDNN's AVX-512/AVX2 f32 convolutions read and write NHWC; on NCHW they use im2col + GEMM.
  bool prefers_channels_last() const override { return true; }
  // bf16: convolutions and products with constant weights run in bfloat16 (fp32 accumulation) on
  // CPUs with native bf16 instructions (AVX-512 BF16, AMX); elsewhere oneDNN would emulate it,
  // slower than fp32, so the request is refused rather than honoured slowly.
  Status check_precision(const std::string& precision) const override {
    if (precision == "fp32") return ok_status();
    if (precision == "bf16") {
      if (cpu::has_native_bf16()) return ok_status();
      return unsupported("--bf16 on the cpu backend needs a CPU with AVX-512 BF16 or AMX; this one is " + cpu::dnnl_isa_name());
    }
    return unsupported("the cpu backend has no " + precision + " kernels (this CPU computes in fp32 or bf16); use --bf16 or the cuda backend");
  }

 private:
  KernelTable table_;
};
}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace kiln
