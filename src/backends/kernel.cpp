#include "backends/kernel.h"

#include <algorithm>
#include <optional>

#include "core/progress.h"
#include "fmt/format.h"

namespace kiln {

Status KernelContext::error(const std::string& msg) const {
  return invalid_argument(fmt::format("{}: {}", node().describe(), msg));
}

Status KernelContext::unsupported_error(const std::string& msg) const {
  return unsupported(fmt::format("{}: {}", node().describe(), msg));
}

void BuildContext::report_tuning(const Node& n, size_t problem, size_t problems) {
  if (!progress) return;
  // The detail has room for about 40 characters: a long name keeps its end, where exporters'
  // names differ ("/layer3/conv2"); it gives up room to the problem's number when there are several.
  const size_t room = problems > 1 ? 12 : 18;
  const std::string name = n.name.size() > room ? ".." + n.name.substr(n.name.size() - (room - 2)) : n.name;
  std::string text = fmt::format("tuning layer {}/{} ({})", layer, layers, name);
  if (problems > 1) text += fmt::format(", shape {}/{}", problem + 1, problems);
  progress->update(2, text, /*now=*/true);
}

std::string BuildContext::summary() const {
  return fmt::format("tuned {} layer{} ({} problem{}) in {:.1f} s ({} from the timing cache)", tuned_layers,
                     tuned_layers == 1 ? "" : "s", tuned_problems, tuned_problems == 1 ? "" : "s", tuning_seconds,
                     cached_problems);
}

std::vector<const BuildShapes*> profiles_with_distinct_inputs(const Node& n, const std::vector<BuildShapes>& profiles) {
  // A profile whose shapes are unknown for an input (inference could not tell) differs from one
  // whose shapes are known there: the hook finds nothing to plan for in it and skips it itself.
  auto input_dims = [&n](const BuildShapes& shapes) {
    std::vector<std::optional<Dims>> dims;
    for (size_t i = 0; i < n.num_inputs(); ++i) {
      auto it = n.input(i) ? shapes.find(n.input(i)) : shapes.end();
      dims.push_back(it == shapes.end() ? std::nullopt : std::optional<Dims>(it->second));
    }
    return dims;
  };
  std::vector<const BuildShapes*> out;
  std::vector<std::vector<std::optional<Dims>>> seen;
  for (const BuildShapes& shapes : profiles) {
    auto dims = input_dims(shapes);
    if (std::find(seen.begin(), seen.end(), dims) != seen.end()) continue;
    seen.push_back(std::move(dims));
    out.push_back(&shapes);
  }
  return out;
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
