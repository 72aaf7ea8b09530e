// What the cuda backend's wrappers share: build-time questions about a node (known ranks, constant
// operands, unused outputs) and the device-to-device copy of the shape ops.
#include "backends/cuda/kernels/common.h"
#include "backends/cuda/ops/cuda_ops.h"

namespace kiln::cuda {

std::optional<size_t> known_rank(const Value* v) {
  if (!v || !v->shape) return std::nullopt;
  return v->shape->size();
}

bool rank_at_most(const Value* v, size_t max_rank) {
  const std::optional<size_t> r = known_rank(v);
  return r && *r <= max_rank;
}

int64_t known_dim(const Value* v, size_t d) {
  if (!v || !v->shape || d >= v->shape->size()) return -1;
  const Dim& dim = (*v->shape)[d];
  return dim.is_known() ? dim.value : -1;
}

std::optional<std::vector<int64_t>> constant_ints(const Value* v) {
  if (!v || !v->constant) return std::nullopt;
  const Tensor& t = *v->constant;
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kInt64) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.data_as<int64_t>()[i];
  } else if (t.dtype() == DataType::kInt32) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.data_as<int32_t>()[i];
  } else {
    return std::nullopt;
  }
  return out;
}

bool all_of_dtype(const Node& n, DataType t) {
  for (const Value* v : n.inputs()) {
    if (v && v->dtype != t) return false;
  }
  for (const Value* v : n.outputs()) {
    if (v && v->dtype != t) return false;
  }
  return true;
}

bool output_unused(const Node& n, size_t i) {
  const Value* v = n.output(i);
  return !v || (v->uses().empty() && !v->is_graph_output());
}

bool shape_input_plannable(const Value* v) { return !v || !v->is_graph_input(); }

bool is_shape_arithmetic(const Value* v) {
  return v && (v->dtype == DataType::kInt64 || v->dtype == DataType::kInt32) && rank_at_most(v, 1);
}

KernelEntry function_entry(const std::string& domain, const std::string& op_type, const std::string& name,
                           std::function<bool(const Node&)> supports, KernelFn fn) {
  KernelEntry e;
  e.domain = domain;
  e.op_type = op_type;
  e.name = name;
  e.supports = std::move(supports);
  e.create = [fn](const Node&) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(fn));
  };
  return e;
}

Status copy_into_output(KernelContext& ctx, size_t i, const Tensor& x, const Dims& dims) {
  if (element_count(dims) != x.numel()) {
    return ctx.error("the output shape holds another number of elements than the input");  // inference prevents it
  }
  KILN_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(i, x.dtype(), dims));
  if (x.nbytes() == 0 || y->data() == x.data()) return ok_status();
  return launch_status(ctx, cudaMemcpyAsync(y->data(), x.data(), x.nbytes(), cudaMemcpyDeviceToDevice, stream_of(ctx)));
}

}  // namespace kiln::cuda
