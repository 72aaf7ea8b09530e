// Recognizes an activation applied to a value, in the forms exporters write: one op (Relu,
// LeakyRelu, Clip with constant bounds, Sigmoid, Tanh, HardSigmoid, HardSwish, Gelu), SiLU as
// Mul(x, Sigmoid(x)), or ReLU6 as Min(Max(x, 0), 6). The fusion passes fold what it finds into the producing layer; names and
// parameters are those of docs/fused_ops.md ("Activations").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "passes/pattern.h"

namespace kiln {

struct ActivationMatch {
  std::string name;          // "Relu", "Clip", "Silu", ...
  float alpha = 0, beta = 0; // its parameters
  std::vector<Node*> nodes;  // the nodes it replaces (1, or 2 for SiLU and Min/Max)
  Value* output = nullptr;   // the activation's result
};

// The activation that is v's only reader (SiLU: its two readers), when v is read by nothing
// else. nullopt otherwise.
std::optional<ActivationMatch> match_activation(const Value* v, const GraphUses& uses);

// The same for a single node n applied to its input 0 (no SiLU): for pointwise chains.
std::optional<ActivationMatch> activation_of_node(Node* n);

}  // namespace kiln
