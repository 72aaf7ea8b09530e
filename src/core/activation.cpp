#include "core/activation.h"

#include <limits>
#include <utility>

namespace kiln {

namespace {

constexpr std::pair<Activation, const char*> kActivationNames[] = {
    {Activation::kRelu, "Relu"},
    {Activation::kLeakyRelu, "LeakyRelu"},
    {Activation::kClip, "Clip"},
    {Activation::kSigmoid, "Sigmoid"},
    {Activation::kTanh, "Tanh"},
    {Activation::kHardSigmoid, "HardSigmoid"},
    {Activation::kHardSwish, "HardSwish"},
    {Activation::kSilu, "Silu"},
    {Activation::kGelu, "Gelu"},
    {Activation::kGeluTanh, "GeluTanh"},
};

}  // namespace

Result<Activation> parse_activation(const std::string& name) {
  if (name.empty()) return Activation::kNone;
  for (const auto& [a, n] : kActivationNames) {
    if (name == n) return a;
  }
  return invalid_argument("unknown activation '" + name + "' (expected one of: " + activation_names() +
                          ", or \"\" for none)");
}

const char* activation_name(Activation a) {
  for (const auto& [act, n] : kActivationNames) {
    if (act == a) return n;
  }
  return "";
}

std::string activation_names() {
  std::string out;
  for (const auto& [a, n] : kActivationNames) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

ActivationParams default_activation_params(Activation a) {
  switch (a) {
    case Activation::kLeakyRelu:
      return {0.01f, 0.0f};
    case Activation::kHardSigmoid:
      return {0.2f, 0.5f};
    case Activation::kClip:
      // Clip without bounds leaves every value as it is (infinite bounds, so that float64 values
      // beyond float's range are not clipped either).
      return {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
    default:
      return {};
  }
}

}  // namespace kiln
