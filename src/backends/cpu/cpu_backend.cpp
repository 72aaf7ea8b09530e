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
                          cpu::fused_matmul_entry()}) {
      table_.add(std::move(e));
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

 private:
  KernelTable table_;
};
}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace kiln
