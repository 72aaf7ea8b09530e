#pragma once

#include <optional>
#include <string>

#include "ir/attribute.h"

namespace kiln {
// The kind every ai.onnx op gives attribute `name`, or nullopt when it varies by op or is unknown.
std::optional<Attribute::Kind> expected_attribute_kind(const std::string& name);
}  // namespace kiln
