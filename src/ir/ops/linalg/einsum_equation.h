// Einsum equations, parsed once and shared by the schema (inference) and the reference kernel.
#pragma once

#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

// Labels are letters 'A'-'Z' and 'a'-'z'; kEllipsis marks where "..." stands in a term.
struct EinsumEquation {
  static constexpr int kEllipsis = -1;
  std::vector<std::vector<int>> inputs;  // per operand: its labels (char codes) in order
  std::vector<int> output;               // the output's labels; implicit mode fills it too
  bool explicit_output = false;
};

// Parses `eq` for `num_inputs` operands. In implicit mode (no "->") the output is "..." (when any
// operand has one) followed by the labels seen exactly once, in alphabetical (char code) order.
Result<EinsumEquation> parse_einsum(const std::string& eq, size_t num_inputs);

}  // namespace kiln
