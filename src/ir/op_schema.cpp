#include "ir/op_schema.h"

#include <algorithm>

#include "fmt/format.h"

namespace kiln {

InferenceContext::InferenceContext(const Node& node, std::vector<const ValueState*> inputs)
    : node_(node), inputs_(std::move(inputs)), outputs_(node.num_outputs()) {}

DataType InferenceContext::input_dtype(size_t i) const {
  return has_input(i) ? inputs_[i]->dtype : DataType::kUndefined;
}

const MaybeShape& InferenceContext::input_shape(size_t i) const {
  static const MaybeShape kUnknown;
  return has_input(i) ? inputs_[i]->shape : kUnknown;
}

size_t InferenceContext::input_rank(size_t i) const {
  const MaybeShape& s = input_shape(i);
  return s ? s->size() : 0;
}

const Tensor* InferenceContext::input_value(size_t i) const {
  return has_input(i) && inputs_[i]->value ? &*inputs_[i]->value : nullptr;
}

std::optional<ShapeElems> InferenceContext::input_elems(size_t i) const {
  if (!has_input(i)) return std::nullopt;
  if (const Tensor* v = input_value(i)) {
    if (v->dtype() != DataType::kInt64 && v->dtype() != DataType::kInt32) return std::nullopt;
    ShapeElems e;
    for (int64_t k = 0; k < v->numel(); ++k) {
      e.push_back(ShapeElem::literal(v->dtype() == DataType::kInt64 ? v->data_as<int64_t>()[k] : v->data_as<int32_t>()[k]));
    }
    return e;
  }
  return inputs_[i]->elems;
}

void InferenceContext::set_output(size_t i, DataType dtype, MaybeShape shape) {
  if (i >= outputs_.size()) return;
  outputs_[i].dtype = dtype;
  outputs_[i].shape = std::move(shape);
}

void InferenceContext::set_output_value(size_t i, Tensor value) {
  if (i >= outputs_.size()) return;
  outputs_[i].dtype = value.dtype();
  outputs_[i].shape = sym_shape(value.shape());
  outputs_[i].value = std::move(value);
}

Status InferenceContext::error(const std::string& msg) const {
  return invalid_argument(fmt::format("{}: {}", node_.describe(), msg));
}

Status InferenceContext::unsupported_error(const std::string& msg) const {
  return unsupported(fmt::format("{}: {}", node_.describe(), msg));
}

void OpRegistry::add(OpSchema schema) {
  auto& list = schemas_[{schema.domain, schema.op_type}];
  list.push_back(std::move(schema));
  std::sort(list.begin(), list.end(),
            [](const OpSchema& a, const OpSchema& b) { return a.since_version < b.since_version; });
}

const OpSchema* OpRegistry::find(const std::string& domain, const std::string& op_type, int opset) const {
  auto it = schemas_.find({domain == "ai.onnx" ? "" : domain, op_type});
  if (it == schemas_.end()) return nullptr;
  const OpSchema* best = nullptr;
  for (const OpSchema& s : it->second) {
    if (s.since_version <= opset) best = &s;
  }
  return best;
}

bool OpRegistry::knows(const std::string& domain, const std::string& op_type) const {
  return schemas_.count({domain == "ai.onnx" ? "" : domain, op_type}) != 0;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : schemas_) out.push_back(k.first.empty() ? k.second : k.first + ":" + k.second);
  return out;
}

const OpRegistry& OpRegistry::global() {
  static const OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_all_ops(*r);
    return r;
  }();
  return *registry;
}

}  // namespace kiln
