#include "backends/kernel.h"

#include "core/progress.h"
#include "fmt/format.h"

namespace kiln {

Status KernelContext::error(const std::string& msg) const {
  return invalid_argument(fmt::format("{}: {}", node().describe(), msg));
}

Status KernelContext::unsupported_error(const std::string& msg) const {
  return unsupported(fmt::format("{}: {}", node().describe(), msg));
}

void BuildContext::report_tuning(const Node& n) {
  if (!progress) return;
  // The detail has room for about 40 characters: a long name keeps its end, where exporters'
  // names differ ("/layer3/conv2").
  constexpr size_t kNameRoom = 18;
  const std::string name = n.name.size() > kNameRoom ? ".." + n.name.substr(n.name.size() - (kNameRoom - 2)) : n.name;
  progress->update(2, fmt::format("tuning layer {}/{} ({})", layer, layers, name), /*now=*/true);
}

void SubstituteContext::replace_input(size_t i, Tensor t) { replaced_.emplace_back(i, std::move(t)); }

const Tensor* SubstituteContext::input(size_t i) const {
  for (const auto& [j, t] : replaced_) {
    if (j == i) return &t;
  }
  return base_.input(i);
}

Result<Tensor*> SubstituteContext::allocate_output(size_t i, DataType dtype, const Dims& dims) {
  if (!own_output0_) return base_.allocate_output(i, dtype, dims);
  if (i != 0) return base_.error(fmt::format("output {} does not exist", i));
  KILN_ASSIGN_OR_RETURN(output0_, Tensor::allocate(dtype, dims));
  return &output0_;
}

void KernelTable::add(KernelEntry e) { entries_.push_back(std::move(e)); }

void KernelTable::add(const std::string& op_type, KernelFn fn, const std::string& domain) {
  KernelEntry e;
  e.domain = domain;
  e.op_type = op_type;
  e.name = "ref_" + op_type;
  e.create = [fn](const Node&) -> Result<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(fn));
  };
  entries_.push_back(std::move(e));
}

const KernelEntry* KernelTable::find(const Node& n, bool fallbacks_only) const {
  const std::string dom = n.domain == "ai.onnx" ? "" : n.domain;
  for (const KernelEntry& e : entries_) {
    if (fallbacks_only && e.backend.empty()) continue;
    if (e.op_type == n.op_type && e.domain == dom && (!e.supports || e.supports(n))) return &e;
  }
  return nullptr;
}

}  // namespace kiln
