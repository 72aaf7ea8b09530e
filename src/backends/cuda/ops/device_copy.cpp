// kiln.CopyToDevice / kiln.CopyToHost: one asynchronous copy on the context's stream (the runtime
// synchronizes before run() returns, so host outputs are complete then).
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/ops/cuda_ops.h"
#include "fmt/format.h"
#include "ir/ops/fused/fused_util.h"

namespace kiln::cuda {

namespace {

template <cudaMemcpyKind kKind>
Status run_copy(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("no input to copy");
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  if (x->nbytes() == 0) return ok_status();
  return launch_status(ctx, cudaMemcpyAsync(y->data(), x->data(), x->nbytes(), kKind, stream_of(ctx)));
}

KernelEntry copy_entry(const char* op, const char* name, KernelFn fn, bool to_device) {
  KernelEntry e;
  e.domain = kKilnDomain;
  e.op_type = op;
  e.name = name;
  // Bytes only: strings (and other non-fixed-size types) cannot live in device memory.
  e.supports = [](const Node& n) { return n.input(0) && element_bytes(n.input(0)->dtype) > 0; };
  e.create = [fn](const Node&) -> Result<std::unique_ptr<Kernel>> { return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(fn)); };
  // The side of the copy in host memory.
  if (to_device) e.host_inputs = {0};
  else e.host_outputs = {0};
  return e;
}

}  // namespace

Status launch_status(const KernelContext& ctx, cudaError_t e) {
  if (e == cudaSuccess) return ok_status();
  return ctx.error(fmt::format("CUDA launch failed: {} ({})", cudaGetErrorString(e), cudaGetErrorName(e)));
}

bool node_float_types(const Node& n) {
  DataType t = DataType::kUndefined;
  auto same_float = [&](const Value* v) {
    if (!v) return true;
    if (!is_kernel_float(v->dtype)) return false;
    if (t == DataType::kUndefined) t = v->dtype;
    return v->dtype == t;
  };
  for (const Value* v : n.inputs()) {
    if (!same_float(v)) return false;
  }
  for (const Value* v : n.outputs()) {
    if (!same_float(v)) return false;
  }
  return true;
}

std::vector<KernelEntry> device_copy_entries() {
  return {copy_entry("CopyToDevice", "cuda_copy_to_device", run_copy<cudaMemcpyHostToDevice>, true),
          copy_entry("CopyToHost", "cuda_copy_to_host", run_copy<cudaMemcpyDeviceToHost>, false)};
}

}  // namespace kiln::cuda
