#include "engine/layer_detail.h"

#include <vector>

#include "fmt/format.h"

namespace kiln {

namespace {

// An activation with the parameters that change what it computes ("LeakyRelu(0.1)",
// "Clip(0,6)"); the parameter-free ones by name alone. Empty name: no activation.
std::string activation_text(const std::string& name, float alpha, float beta) {
  if (name == "LeakyRelu") return fmt::format("LeakyRelu({:g})", alpha);
  if (name == "Clip" || name == "HardSigmoid") return fmt::format("{}({:g},{:g})", name, alpha, beta);
  return name;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!s.empty()) s += sep;
    s += p;
  }
  return s;
}

// The epilogue shared by FusedConv and FusedMatMul, in the order it is applied:
//   post_activation(activation(product + bias) + residual)
// `bias_input` and `residual_input` are the indices of those optional inputs.
std::string epilogue_text(const Node& n, size_t bias_input, size_t residual_input) {
  const Attributes& a = n.attrs;
  std::vector<std::string> parts;
  if (n.has_input(bias_input)) parts.push_back("bias");
  parts.push_back(activation_text(a.get_string("activation", ""), a.get_float("activation_alpha", 0),
                                  a.get_float("activation_beta", 0)));
  if (n.has_input(residual_input)) parts.push_back("add");
  parts.push_back(activation_text(a.get_string("post_activation", ""), a.get_float("post_activation_alpha", 0),
                                  a.get_float("post_activation_beta", 0)));
  return join(parts, "+");
}

std::string fused_conv_detail(const Node& n) { return epilogue_text(n, 2, 3); }

std::string fused_matmul_detail(const Node& n) {
  const Attributes& a = n.attrs;
  std::vector<std::string> parts;
  if (a.get_int("trans_a", 0)) parts.push_back("transA");
  if (a.get_int("trans_b", 0)) parts.push_back("transB");
  const float alpha = a.get_float("alpha", 1.0f);
  if (alpha != 1.0f) parts.push_back(fmt::format("alpha={:g}", alpha));
  parts.push_back(epilogue_text(n, 2, 3));
  return join(parts, " ");
}

// The steps in order: "Mul>Add>Relu". A step whose running value is the right-hand operand is
// marked "Sub(r)" since `Sub(E, v)` and `Sub(v, E)` differ.
std::string fused_pointwise_detail(const Node& n) {
  const Attributes& a = n.attrs;
  const Attribute* ops = a.find("ops");
  if (!ops) return "";
  const std::vector<int64_t> swapped = a.get_ints("swapped");
  const std::vector<float> alphas = a.get_floats("alphas"), betas = a.get_floats("betas");
  std::vector<std::string> steps;
  for (size_t i = 0; i < ops->strings.size(); ++i) {
    std::string step = activation_text(ops->strings[i], i < alphas.size() ? alphas[i] : 0, i < betas.size() ? betas[i] : 0);
    if (i < swapped.size() && swapped[i]) step += "(r)";
    steps.push_back(step);
  }
  return join(steps, ">");
}

std::string attention_detail(const Node& n) {
  const Attributes& a = n.attrs;
  std::vector<std::string> parts;
  if (a.has("num_heads")) parts.push_back(fmt::format("heads={}", a.get_int("num_heads", 0)));
  if (n.has_input(3)) parts.push_back("mask");
  if (a.get_int("causal", 0)) parts.push_back("causal");
  if (a.get_int("qkv_packed", 0)) parts.push_back("qkv_packed");
  return join(parts, " ");
}

// LayerNormalization and RMSNormalization: only what differs from the usual last-axis form.
std::string normalization_detail(const Node& n) {
  const int64_t axis = n.attrs.get_int("axis", -1);
  return axis == -1 ? "" : fmt::format("axis={}", axis);
}

}  // namespace

std::string layer_op_name(const Node& n) {
  if (n.domain.empty() || n.domain == "ai.onnx") return n.op_type;
  return n.domain + "." + n.op_type;
}

std::string layer_detail(const Node& n) {
  const bool onnx = n.domain.empty() || n.domain == "ai.onnx";
  if (n.domain == "kiln") {
    if (n.op_type == "FusedConv") return fused_conv_detail(n);
    if (n.op_type == "FusedMatMul") return fused_matmul_detail(n);
    if (n.op_type == "FusedPointwise") return fused_pointwise_detail(n);
    if (n.op_type == "Attention") return attention_detail(n);
    if (n.op_type == "RMSNormalization") return normalization_detail(n);
    return "";
  }
  if (onnx && n.op_type == "Gelu") return n.attrs.get_string("approximate", "none") == "tanh" ? "tanh" : "";
  if (onnx && n.op_type == "LayerNormalization") return normalization_detail(n);
  return "";
}

}  // namespace kiln
