// Harness cases for kiln's fused ops (the "kiln" domain, opset 1; docs/fused_ops.md): every
// activation, with and without bias and residual, transposes and batch broadcasting, grouped /
// depthwise / strided convolutions, attention with masks, causal, Sq != Sk, Dv != Dh, the 16-bit
// floats, and pointwise chains with swapped and broadcast operands.
#include <limits>
#include <string>
#include <vector>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

using DT = DataType;

constexpr double kInf = std::numeric_limits<double>::infinity();

CaseInput pos(DT t, Dims dims) { return in(t, std::move(dims), Fill::kPositive); }
CaseInput weights(DT t, Dims dims) {
  CaseInput c = in(t, std::move(dims));
  c.constant = true;  // as the optimizer leaves them: folded weights are initializers
  return c;
}

Case make(const std::string& op, const std::string& suffix, std::vector<CaseInput> inputs,
          std::function<void(Attributes&)> attrs = {}, double tol = 1e-5) {
  Case c;
  c.name = op + "_" + suffix;
  c.op_type = op;
  c.domain = "kiln";
  c.opset = 1;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.tolerance = tol;
  return c;
}

std::string fmt_bias_res(int bias, int res) {
  return std::string(bias ? "bias" : "no_bias") + (res ? "_residual" : "_no_residual");
}
double tol_for(DT t) { return t == DT::kFloat16 || t == DT::kBFloat16 ? 1e-2 : 1e-5; }

struct Act {
  const char* name;
  float alpha, beta;
  bool has_params;
};
// Every activation, the ones with parameters at non-default values.
const Act kActivations[] = {
    {"Relu", 0, 0, false},        {"LeakyRelu", 0.2f, 0, true},   {"Clip", -0.25f, 0.5f, true},
    {"Sigmoid", 0, 0, false},     {"Tanh", 0, 0, false},          {"HardSigmoid", 0.3f, 0.4f, true},
    {"HardSwish", 0, 0, false},   {"Silu", 0, 0, false},          {"Gelu", 0, 0, false},
    {"GeluTanh", 0, 0, false},
};

// Sets `prefix`, and its parameters when it has any.
void set_act(Attributes& a, const std::string& prefix, const Act& act) {
  a.set_string(prefix, act.name);
  if (act.has_params) {
    a.set_float(prefix + "_alpha", act.alpha);
    a.set_float(prefix + "_beta", act.beta);
  }
}

void add_fused_conv(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  for (const Act& act : kActivations) {
    cases.push_back(make("FusedConv", std::string("act_") + act.name + "_2x4x7x9_k3",
                         {in(f, {2, 4, 7, 9}), weights(f, {6, 4, 3, 3}), weights(f, {6})},
                         [act](Attributes& a) {
                           a.set_ints("pads", {1, 1, 1, 1});
                           set_act(a, "activation", act);
                         }));
  }
  // Every mix of bias and residual, with an activation before and after the residual.
  for (int bias = 0; bias < 2; ++bias) {
    for (int res = 0; res < 2; ++res) {
      std::vector<CaseInput> ins = {in(f, {2, 4, 7, 9}), weights(f, {6, 4, 3, 3}), bias ? weights(f, {6}) : omitted()};
      if (res) ins.push_back(in(f, {2, 6, 5, 7}));
      cases.push_back(make("FusedConv", fmt_bias_res(bias, res), std::move(ins), [](Attributes& a) {
        a.set_string("activation", "Relu");
        a.set_string("post_activation", "Relu");
      }));
    }
  }
  cases.push_back(make("FusedConv", "residual_no_activations",
                       {in(f, {1, 3, 6, 6}), weights(f, {5, 3, 1, 1}), weights(f, {5}), in(f, {1, 5, 6, 6})}));
  cases.push_back(make("FusedConv", "residual_post_Sigmoid",
                       {in(f, {1, 3, 6, 6}), weights(f, {5, 3, 3, 3}), weights(f, {5}), in(f, {1, 5, 4, 4})},
                       [](Attributes& a) { a.set_string("post_activation", "Sigmoid"); }));
  cases.push_back(make("FusedConv", "relu6_clip_default_params",
                       {in(f, {1, 3, 6, 6}), weights(f, {5, 3, 3, 3}), omitted(), in(f, {1, 5, 4, 4})},
                       [](Attributes& a) {
                         a.set_string("activation", "Clip");
                         a.set_float("activation_alpha", 0.0f);
                         a.set_float("activation_beta", 6.0f);
                         a.set_string("post_activation", "LeakyRelu");  // alpha defaults to 0.01
                       }));
  cases.push_back(make("FusedConv", "group3_2x6x8x8",
                       {in(f, {2, 6, 8, 8}), weights(f, {9, 2, 3, 3}), weights(f, {9}), in(f, {2, 9, 8, 8})},
                       [](Attributes& a) {
                         a.set_int("group", 3);
                         a.set_ints("pads", {1, 1, 1, 1});
                         a.set_string("activation", "HardSwish");
                         a.set_string("post_activation", "Relu");
                       }));
  cases.push_back(make("FusedConv", "depthwise_stride2_2x8x10x10",
                       {in(f, {2, 8, 10, 10}), weights(f, {8, 1, 3, 3}), weights(f, {8})}, [](Attributes& a) {
                         a.set_int("group", 8);
                         a.set_ints("strides", {2, 2});
                         a.set_ints("pads", {1, 1, 1, 1});
                         a.set_string("activation", "Clip");
                         a.set_float("activation_alpha", 0.0f);
                         a.set_float("activation_beta", 6.0f);
                       }));
  cases.push_back(make("FusedConv", "strides_dilations_asym_pads",
                       {in(f, {1, 3, 13, 11}), weights(f, {4, 3, 3, 2}), weights(f, {4}), in(f, {1, 4, 5, 6})},
                       [](Attributes& a) {
                         a.set_ints("strides", {2, 2});
                         a.set_ints("dilations", {2, 1});
                         a.set_ints("pads", {1, 0, 0, 2});
                         a.set_string("activation", "Silu");
                         a.set_string("post_activation", "Tanh");
                       }));
  cases.push_back(make("FusedConv", "auto_pad_same_upper",
                       {in(f, {1, 2, 7, 8}), weights(f, {3, 2, 4, 3}), weights(f, {3}), in(f, {1, 3, 4, 4})},
                       [](Attributes& a) {
                         a.set_string("auto_pad", "SAME_UPPER");
                         a.set_ints("strides", {2, 2});
                         a.set_string("activation", "Gelu");
                       }));
  cases.push_back(make("FusedConv", "1d", {in(f, {2, 3, 25}), weights(f, {4, 3, 5}), weights(f, {4}), in(f, {2, 4, 21})},
                       [](Attributes& a) { a.set_string("post_activation", "Relu"); }));
  cases.push_back(make("FusedConv", "3d", {in(f, {1, 2, 5, 6, 7}), weights(f, {3, 2, 3, 2, 3}), weights(f, {3})},
                       [](Attributes& a) { a.set_string("activation", "Sigmoid"); }));
  cases.push_back(make("FusedConv", "1x1_pointwise_resnet_tail",
                       {in(f, {2, 16, 5, 5}), weights(f, {8, 16, 1, 1}), weights(f, {8}), in(f, {2, 8, 5, 5})},
                       [](Attributes& a) { a.set_string("post_activation", "Relu"); }));
  // channels_last = 1: X, Z and Y are N×H×W×C (what the convert-to-channels-last pass makes).
  auto channels_last = [](std::function<void(Attributes&)> more) {
    return [more](Attributes& a) {
      a.set_int("channels_last", 1);
      if (more) more(a);
    };
  };
  cases.push_back(make("FusedConv", "channels_last_bias_relu_residual_relu",
                       {in(f, {2, 7, 9, 4}), weights(f, {6, 4, 3, 3}), weights(f, {6}), in(f, {2, 7, 9, 6})},
                       channels_last([](Attributes& a) {
                         a.set_ints("pads", {1, 1, 1, 1});
                         a.set_string("activation", "Relu");
                         a.set_string("post_activation", "Relu");
                       })));
  cases.push_back(make("FusedConv", "channels_last_1x1_17_channels", {in(f, {1, 5, 6, 17}), weights(f, {19, 17, 1, 1}), omitted()},
                       channels_last({})));
  cases.push_back(make("FusedConv", "channels_last_stem_7x7_s2_3_channels",
                       {in(f, {1, 20, 18, 3}), weights(f, {8, 3, 7, 7}), weights(f, {8})}, channels_last([](Attributes& a) {
                         a.set_ints("strides", {2, 2});
                         a.set_ints("pads", {3, 3, 3, 3});
                         a.set_string("activation", "Relu");
                       })));
  cases.push_back(make("FusedConv", "channels_last_depthwise_stride2_relu6",
                       {in(f, {2, 10, 10, 24}), weights(f, {24, 1, 3, 3}), weights(f, {24})}, channels_last([](Attributes& a) {
                         a.set_int("group", 24);
                         a.set_ints("strides", {2, 2});
                         a.set_ints("pads", {1, 1, 1, 1});
                         a.set_string("activation", "Clip");
                         a.set_float("activation_alpha", 0.0f);
                         a.set_float("activation_beta", 6.0f);
                       })));
  cases.push_back(make("FusedConv", "channels_last_group3_dilated_asym_pads",
                       {in(f, {1, 13, 11, 6}), weights(f, {9, 2, 3, 2}), weights(f, {9}), in(f, {1, 5, 6, 9})},
                       channels_last([](Attributes& a) {
                         a.set_int("group", 3);
                         a.set_ints("strides", {2, 2});
                         a.set_ints("dilations", {2, 1});
                         a.set_ints("pads", {1, 0, 0, 2});
                         a.set_string("activation", "Silu");
                       })));
  cases.push_back(make("FusedConv", "channels_last_runtime_weights", {in(f, {1, 6, 6, 4}), in(f, {5, 4, 3, 3}), in(f, {5})},
                       channels_last([](Attributes& a) { a.set_string("auto_pad", "SAME_UPPER"); })));
  // kiln.MaxPool: ONNX MaxPool's windows on a channels-last X (and on a channels-first one).
  auto max_pool = [&](const std::string& name, Dims x, std::function<void(Attributes&)> attrs) {
    Case c = make("MaxPool", name, {in(f, std::move(x))}, std::move(attrs));
    cases.push_back(std::move(c));
  };
  max_pool("channels_last_3x3_s2_p1_resnet", {1, 12, 12, 16}, channels_last([](Attributes& a) {
             a.set_ints("kernel_shape", {3, 3});
             a.set_ints("strides", {2, 2});
             a.set_ints("pads", {1, 1, 1, 1});
           }));
  max_pool("channels_last_ceil_mode_odd", {2, 7, 9, 5}, channels_last([](Attributes& a) {
             a.set_ints("kernel_shape", {2, 3});
             a.set_ints("strides", {2, 2});
             a.set_int("ceil_mode", 1);
           }));
  max_pool("channels_last_dilated_same_upper", {1, 9, 8, 3}, channels_last([](Attributes& a) {
             a.set_ints("kernel_shape", {3, 2});
             a.set_ints("dilations", {2, 2});
             a.set_string("auto_pad", "SAME_UPPER");
           }));
  max_pool("channels_first", {1, 3, 8, 8}, [](Attributes& a) {
    a.set_ints("kernel_shape", {2, 2});
    a.set_ints("strides", {2, 2});
  });
  for (DT t : {DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("FusedConv", tn(t) + "_bias_relu_residual_relu",
                         {in(t, {2, 4, 7, 9}), weights(t, {6, 4, 3, 3}), weights(t, {6}), in(t, {2, 6, 7, 9})},
                         [](Attributes& a) {
                           a.set_ints("pads", {1, 1, 1, 1});
                           a.set_string("activation", "Relu");
                           a.set_string("post_activation", "Relu");
                         },
                         tol_for(t)));
    cases.push_back(make("FusedConv", tn(t) + "_silu", {in(t, {1, 3, 6, 6}), weights(t, {4, 3, 3, 3}), weights(t, {4})},
                         [](Attributes& a) { a.set_string("activation", "Silu"); }, tol_for(t)));
  }
}

void add_fused_matmul(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  for (const Act& act : kActivations) {
    cases.push_back(make("FusedMatMul", std::string("act_") + act.name + "_3x5x7_7x6_bias6",
                         {in(f, {3, 5, 7}), weights(f, {7, 6}), weights(f, {6})},
                         [act](Attributes& a) { set_act(a, "activation", act); }));
  }
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const Dims a = ta ? Dims{2, 7, 5} : Dims{2, 5, 7};
      const Dims b = tb ? Dims{6, 7} : Dims{7, 6};
      cases.push_back(make("FusedMatMul", "trans" + std::to_string(ta) + std::to_string(tb) + "_alpha_bias_residual",
                           {in(f, a), weights(f, b), weights(f, {6}), in(f, {2, 5, 6})}, [ta, tb](Attributes& at) {
                             at.set_int("trans_a", ta);
                             at.set_int("trans_b", tb);
                             at.set_float("alpha", 0.75f);
                             at.set_string("activation", "GeluTanh");
                             at.set_string("post_activation", "Tanh");
                           }));
    }
  }
  for (int bias = 0; bias < 2; ++bias) {
    for (int res = 0; res < 2; ++res) {
      std::vector<CaseInput> ins = {in(f, {4, 9}), weights(f, {9, 3}), bias ? weights(f, {3}) : omitted()};
      if (res) ins.push_back(in(f, {4, 3}));
      cases.push_back(make("FusedMatMul", fmt_bias_res(bias, res), std::move(ins),
                           [](Attributes& a) { a.set_string("post_activation", "Relu"); }));
    }
  }
  cases.push_back(make("FusedMatMul", "batch_bcast_2x1x4x5_3x5x6",
                       {in(f, {2, 1, 4, 5}), in(f, {3, 5, 6}), in(f, {1, 6}), in(f, {3, 4, 6})},
                       [](Attributes& a) { a.set_string("activation", "Relu"); }));
  cases.push_back(make("FusedMatMul", "batch_bcast_trans_b_2x3x4x5_3x6x5",
                       {in(f, {2, 3, 4, 5}), in(f, {3, 6, 5}), in(f, {2, 1, 1, 6})}, [](Attributes& a) {
                         a.set_int("trans_b", 1);
                         a.set_string("activation", "Sigmoid");
                       }));
  cases.push_back(make("FusedMatMul", "vec_mat_7_7x5", {in(f, {7}), weights(f, {7, 5}), weights(f, {5})},
                       [](Attributes& a) { a.set_string("activation", "Relu"); }));
  cases.push_back(make("FusedMatMul", "mat_vec_3x5x7_7", {in(f, {3, 5, 7}), in(f, {7}), in(f, {5}), in(f, {3, 5})},
                       [](Attributes& a) { a.set_string("post_activation", "LeakyRelu"); }));
  cases.push_back(make("FusedMatMul", "trans_a_mat_vec_7x5_7", {in(f, {7, 5}), in(f, {7})}, [](Attributes& a) {
    a.set_int("trans_a", 1);
    a.set_string("activation", "Tanh");
  }));
  cases.push_back(make("FusedMatMul", "gemm_style_trans_b_bias_1xN",
                       {in(f, {6, 10}), weights(f, {4, 10}), weights(f, {1, 4})}, [](Attributes& a) {
                         a.set_int("trans_b", 1);
                         a.set_float("alpha", 0.5f);
                       }));
  cases.push_back(make("FusedMatMul", "bias_scalar_and_column",
                       {in(f, {5, 8}), in(f, {8, 3}), in(f, {}), in(f, {5, 1})},
                       [](Attributes& a) { a.set_string("activation", "HardSigmoid"); }));
  cases.push_back(make("FusedMatMul", "empty_k_3x0_0x4", {in(f, {3, 0}), in(f, {0, 4}), in(f, {4})},
                       [](Attributes& a) { a.set_string("activation", "Sigmoid"); }));
  for (DT t : {DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("FusedMatMul", tn(t) + "_trans_b_bias_gelu_residual",
                         {in(t, {2, 5, 16}), weights(t, {12, 16}), weights(t, {12}), in(t, {2, 5, 12})},
                         [](Attributes& a) {
                           a.set_int("trans_b", 1);
                           a.set_string("activation", "Gelu");
                         },
                         tol_for(t)));
    cases.push_back(make("FusedMatMul", tn(t) + "_silu_alpha",
                         {in(t, {4, 9}), weights(t, {9, 3}), weights(t, {3})}, [](Attributes& a) {
                           a.set_float("alpha", 2.0f);
                           a.set_string("activation", "Silu");
                         },
                         tol_for(t)));
  }
}

// One FusedPointwise step list: (op, operand, swapped, alpha, beta).
struct Step {
  std::string op;
  int64_t operand = 0;
  int64_t swapped = 0;
  float alpha = 0, beta = 0;
};

std::function<void(Attributes&)> steps_attr(std::vector<Step> steps) {
  return [steps](Attributes& a) {
    std::vector<std::string> ops;
    std::vector<int64_t> operands, swapped;
    std::vector<float> alphas, betas;
    for (const Step& s : steps) {
      ops.push_back(s.op);
      operands.push_back(s.operand);
      swapped.push_back(s.swapped);
      alphas.push_back(s.alpha);
      betas.push_back(s.beta);
    }
    Attribute strs;
    strs.kind = Attribute::Kind::kStrings;
    strs.strings = ops;
    a.set("ops", strs);
    a.set_ints("operands", operands);
    a.set_ints("swapped", swapped);
    a.set_floats("alphas", alphas);
    a.set_floats("betas", betas);
  };
}

void add_fused_pointwise(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  const Dims shape{3, 5, 7};
  for (const char* op : {"Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Reciprocal", "Floor", "Ceil"}) {
    const std::string o = op;
    const bool positive = o == "Log" || o == "Sqrt" || o == "Reciprocal";
    cases.push_back(make("FusedPointwise", "unary_" + o, {positive ? pos(f, shape) : in(f, shape)},
                         steps_attr({{o}})));
  }
  for (const Act& act : kActivations) {
    // Parameters taken literally (no defaults): LeakyRelu 0.2, Clip [-0.25, 0.5], HardSigmoid 0.3/0.4.
    cases.push_back(make("FusedPointwise", std::string("act_") + act.name, {in(f, shape)},
                         steps_attr({{act.name, 0, 0, act.alpha, act.beta}})));
  }
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"}) {
    const std::string o = op;
    for (int sw = 0; sw < 2; ++sw) {
      // Div and Pow: keep divisors and bases positive (v is the divisor / base when swapped).
      const bool positive = o == "Div" || o == "Pow";
      cases.push_back(make("FusedPointwise", "binary_" + o + (sw ? "_swapped" : ""),
                           {positive ? pos(f, shape) : in(f, shape), positive ? pos(f, shape) : in(f, shape)},
                           steps_attr({{o, 1, sw}})));
    }
  }
  // x * scale + bias -> Sigmoid -> * x (a broadcast scale and bias; x again as an operand).
  cases.push_back(make("FusedPointwise", "chain_bcast_operands_2x3x4x5",
                       {in(f, {2, 3, 4, 5}), in(f, {3, 1, 1}), in(f, {5}), in(f, {}), in(f, {2, 3, 4, 5})},
                       steps_attr({{"Mul", 1}, {"Add", 2}, {"Sub", 3, 1}, {"Sigmoid"}, {"Mul", 4}, {"Max", 3}})));
  // The erf form of Gelu written out: v/sqrt2 -> Erf -> +1 -> *0.5 (the last Mul by x needs x twice).
  cases.push_back(make("FusedPointwise", "gelu_erf_steps",
                       {in(f, {4, 33}), vals(f, {}, {1.4142135623730951}), vals(f, {}, {1.0}), vals(f, {1}, {0.5})},
                       steps_attr({{"Div", 1}, {"Erf"}, {"Add", 2}, {"Mul", 3}})));
  cases.push_back(make("FusedPointwise", "swapped_sub_div_pow_chain",
                       {pos(f, {6, 8}), pos(f, {8}), pos(f, {6, 1}), vals(f, {}, {2.0})},
                       steps_attr({{"Sub", 1, 1}, {"Abs"}, {"Div", 2, 1}, {"Pow", 3}, {"Sqrt"}, {"Log"}})));
  cases.push_back(make("FusedPointwise", "same_operand_twice_min_max",
                       {in(f, {5, 6}), in(f, {6})}, steps_attr({{"Max", 1}, {"Min", 1, 1}, {"Neg"}, {"Relu"}})));
  cases.push_back(make("FusedPointwise", "nan_inf_through_max_min",
                       {vals(f, {8}, {1, -kInf, kInf, 0, -1, 2, 0.5, -0.5}),
                        vals(f, {8}, {std::numeric_limits<double>::quiet_NaN(), 0, 1, -kInf, 3, -2, 0, 0})},
                       steps_attr({{"Max", 1}, {"Min", 1, 1}, {"Tanh"}})));
  cases.push_back(make("FusedPointwise", "empty_0x4", {in(f, {0, 4}), in(f, {4})}, steps_attr({{"Add", 1}, {"Relu"}})));
  for (DT t : {DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("FusedPointwise", tn(t) + "_chain",
                         {in(t, {4, 6, 5}), in(t, {6, 1}), in(t, {5})},
                         steps_attr({{"Mul", 1}, {"Add", 2, 1}, {"Silu"}, {"Exp"}, {"Sub", 1, 1}, {"GeluTanh"}}),
                         tol_for(t)));
    cases.push_back(make("FusedPointwise", tn(t) + "_hardswish_pow",
                         {pos(t, {7, 9}), vals(t, {}, {0.5})}, steps_attr({{"HardSwish"}, {"Pow", 1}, {"Reciprocal"}}),
                         tol_for(t)));
  }
}

// The cpu kernel's paths: blocks of 2048 elements that cut across rows of every operand layout
// (contiguous, one value per run, numpy broadcasts in the middle), several threads, the transcendental
// steps on edge values, and the fallbacks (rank 9, more operands than it takes).
void add_fused_pointwise_cpu_paths(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  const Dims big{3, 1000, 7};  // 21000 elements: 11 blocks, rows of 7 and 7000 cut by block edges
  cases.push_back(make("FusedPointwise", "blocks_every_operand_layout_3x1000x7",
                       {in(f, big), in(f, {1000, 7}), in(f, {3, 1, 1}), in(f, {1000, 1}), in(f, {7}),
                        in(f, {3, 1, 7}), in(f, {3, 1000, 1}), in(f, {1, 1, 1})},
                       steps_attr({{"Mul", 1}, {"Add", 2, 1}, {"Sub", 3, 1}, {"Tanh"}, {"Max", 4}, {"Div", 5, 1},
                                   {"Min", 6, 1}, {"Mul", 7}, {"Add", 1}})));
  // Per-channel scale and shift of NCHW (runs of H·W against one value), then activations.
  cases.push_back(make("FusedPointwise", "nchw_per_channel_2x24x13x11",
                       {in(f, {2, 24, 13, 11}), in(f, {24, 1, 1}), in(f, {24, 1, 1})},
                       steps_attr({{"Mul", 1}, {"Add", 2}, {"HardSwish"}, {"Clip", 0, 0, -0.3f, 0.4f}})));
  // Multi-threaded: 64K elements, a [768]-style bias and the erf form of Gelu.
  cases.push_back(make("FusedPointwise", "threads_bias_gelu_2x64x512",
                       {in(f, {2, 64, 512}), in(f, {512}), vals(f, {}, {0.7071067811865476})},
                       steps_attr({{"Add", 1}, {"Gelu"}, {"Mul", 2}, {"Erf"}, {"Sigmoid"}, {"Silu"}, {"GeluTanh"}})));
  cases.push_back(make("FusedPointwise", "threads_exp_log_sqrt_2x32768", {pos(f, {2, 32768}), pos(f, {2, 1})},
                       steps_attr({{"Log"}, {"Exp"}, {"Mul", 1}, {"Sqrt"}, {"Reciprocal"}, {"Floor"}, {"Ceil", 0},
                                   {"Abs"}, {"Neg"}, {"LeakyRelu", 0, 0, 0.1f}, {"HardSigmoid", 0, 0, 0.25f, 0.5f}})));
  // Edge values through the vector exp/log/tanh/erf: overflow and underflow bounds, subnormals,
  // the polynomial/formula switch points (tanh 0.625, erf 1), NaN and the infinities.
  const std::vector<double> edges = {0.0,    -0.0,    1e-40,  -1e-40,  0.6249, 0.6251, 0.9999, 1.0001, 3.9,   4.1,
                                     9.0,    -9.0,    88.7,   88.73,   -87.5,  -103.0, -104.5, 1e30,   -1e30, kInf,
                                     -kInf,  std::numeric_limits<double>::quiet_NaN(), 2.5, -2.5, 0.3, -0.3};
  for (const char* op : {"Exp", "Log", "Tanh", "Erf", "Sigmoid", "Gelu", "GeluTanh", "Silu", "Relu", "Sqrt",
                         "Reciprocal"}) {
    cases.push_back(make("FusedPointwise", std::string("edges_") + op, {vals(f, {2, 26}, edges)}, steps_attr({{op}})));
  }
  // Fallbacks to the reference kernel: rank 9, and 17 inputs (more operands than the kernel takes).
  cases.push_back(make("FusedPointwise", "rank9_fallback", {in(f, {2, 1, 3, 1, 2, 1, 2, 1, 3}), in(f, {3})},
                       steps_attr({{"Add", 1}, {"Sigmoid"}})));
  std::vector<CaseInput> many = {in(f, {4, 5})};
  std::vector<Step> many_steps;
  for (int64_t i = 1; i <= 16; ++i) {
    many.push_back(in(f, {5}));
    many_steps.push_back({i % 2 ? "Add" : "Mul", i});
  }
  cases.push_back(make("FusedPointwise", "sixteen_operands_fallback", many, steps_attr(many_steps)));
}

std::function<void(Attributes&)> heads(int64_t h, int64_t causal = 0, float scale = 0) {
  return [h, causal, scale](Attributes& a) {
    a.set_int("num_heads", h);
    if (causal) a.set_int("causal", causal);
    if (scale != 0) a.set_float("scale", scale);
  };
}

// Sizes the cpu kernel tiles differently: head dims and key counts off the vector width (16 and
// 8), every mask broadcast it reads (per key, constant along keys, per head), causal with
// Sq < Sk and Sq > Sk, rows masked out with -inf, -10000 and the lowest float, and half a
// BERT-base layer (the harness keeps tensors under 64k elements), large enough for several threads.
void add_attention_cpu_paths(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  // Padding masks: the last keys of a row at -10000 (a pattern that does not divide Sk).
  auto padding = [](int64_t n) {
    std::vector<double> v(static_cast<size_t>(n), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      if (j % 11 >= 8) v[static_cast<size_t>(j)] = -10000;
    }
    return v;
  };
  cases.push_back(make("Attention", "bert_base_half_1x128_h6_pad_mask",
                       {in(f, {1, 128, 384}), in(f, {1, 128, 384}), in(f, {1, 128, 384}),
                        vals(f, {1, 1, 1, 128}, padding(128))},
                       heads(6)));
  cases.push_back(make("Attention", "d24_b2_s37_mask_b1sqsk",
                       {in(f, {2, 37, 72}), in(f, {2, 37, 72}), in(f, {2, 37, 72}), in(f, {2, 1, 37, 37})},
                       heads(3, 0, 1.5f)));
  cases.push_back(make("Attention", "d40_sq19_sk45_mask_1hsqsk",
                       {in(f, {2, 19, 80}), in(f, {2, 45, 80}), in(f, {2, 45, 80}), in(f, {1, 2, 19, 45})},
                       heads(2, 0, 2.0f)));
  cases.push_back(make("Attention", "d40_dv20_causal_b2_s50",
                       {in(f, {2, 50, 80}), in(f, {2, 50, 80}), in(f, {2, 50, 40})}, heads(2, 1, 1.0f)));
  cases.push_back(make("Attention", "causal_sq5_sk70_pad_mask",
                       {in(f, {2, 5, 64}), in(f, {2, 70, 64}), in(f, {2, 70, 64}), vals(f, {2, 1, 1, 70}, padding(140))},
                       heads(2, 1)));
  cases.push_back(make("Attention", "causal_sq70_sk33_d17_zero_rows",
                       {in(f, {1, 70, 34}), in(f, {1, 33, 34}), in(f, {1, 33, 34})}, heads(2, 1)));
  cases.push_back(make("Attention", "d80_dv72_s21_mask_sk", {in(f, {1, 21, 80}), in(f, {1, 21, 80}),
                                                             in(f, {1, 21, 72}), in(f, {21})},
                       heads(1, 0, 0.5f)));
  cases.push_back(make("Attention", "mask_b1sq1_const_along_keys",
                       {in(f, {2, 9, 48}), in(f, {2, 23, 48}), in(f, {2, 23, 48}), in(f, {2, 1, 9, 1})}, heads(2)));
  cases.push_back(make("Attention", "mask_scalar_shape_1", {in(f, {1, 6, 16}), in(f, {1, 6, 16}), in(f, {1, 6, 16}),
                                                           in(f, {1})},
                       heads(2)));
  cases.push_back(make("Attention", "many_heads_b3_h8_s9_d8",
                       {in(f, {3, 9, 64}), in(f, {3, 9, 64}), in(f, {3, 9, 64}), in(f, {3, 8, 9, 9})}, heads(8)));
  // No head dims for Q·K: every score is 0 (+ mask), so rows average V.
  cases.push_back(make("Attention", "qk_head_dim_0_mask",
                       {in(f, {2, 3, 0}), in(f, {2, 5, 0}), in(f, {2, 5, 8}), in(f, {2, 1, 3, 5})}, heads(2)));
  cases.push_back(make("Attention", "one_query_sk1", {in(f, {2, 1, 32}), in(f, {2, 1, 32}), in(f, {2, 1, 32})},
                       heads(2)));
  // Rows 1 and 4 of 7 have every key at -inf (zeros), row 2 every key at the lowest float (a
  // uniform average, as unfused), the rest a mix of -inf, lowest, -10000 and 0.
  constexpr double kLowest = -3.4028234663852886e38;
  std::vector<double> rows(60, 0.0);
  for (int j = 0; j < 20; ++j) {
    rows[static_cast<size_t>(j)] = j % 4 == 0 ? -kInf : (j % 4 == 1 ? kLowest : (j % 4 == 2 ? -10000 : 0));
    rows[static_cast<size_t>(20 + j)] = -kInf;
    rows[static_cast<size_t>(40 + j)] = j % 3 == 0 ? kLowest : 0;
  }
  std::vector<double> lowest_row = rows;
  for (int j = 0; j < 20; ++j) lowest_row[static_cast<size_t>(40 + j)] = kLowest;
  cases.push_back(make("Attention", "mask_rows_all_inf_sq7_sk20",
                       {in(f, {2, 7, 40}), in(f, {2, 20, 40}), in(f, {2, 20, 24}), vals(f, {7, 20}, rows)}, heads(2)));
  cases.push_back(make("Attention", "mask_row_all_lowest_sq7_sk20",
                       {in(f, {1, 7, 40}), in(f, {1, 20, 40}), in(f, {1, 20, 40}), vals(f, {1, 1, 7, 20}, lowest_row)},
                       heads(2, 1)));
}

// qkv_packed = 1: Q, K, V are column ranges of input 0 [B, S, 3E], inputs 1 and 2 omitted. The
// cpu and cuda kernels read them in place through the row stride 3E. (tests/unit/fused_ops_test
// compares the packed op with Split + the unpacked op.)
std::function<void(Attributes&)> packed(int64_t h, int64_t causal = 0, float scale = 0) {
  return [h, causal, scale](Attributes& a) {
    heads(h, causal, scale)(a);
    a.set_int("qkv_packed", 1);
  };
}

void add_packed_attention(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  cases.push_back(make("Attention", "packed_2x7x36_h3", {in(f, {2, 7, 36}), omitted(), omitted()}, packed(3)));
  cases.push_back(make("Attention", "packed_causal_2x9x48_h2", {in(f, {2, 9, 48}), omitted(), omitted()},
                       packed(2, 1, 0.5f)));
  cases.push_back(make("Attention", "packed_pad_mask_2x6x24_h2",
                       {in(f, {2, 6, 24}), omitted(), omitted(),
                        vals(f, {2, 1, 1, 6}, {0, 0, 0, 0, -kInf, -kInf, 0.5, 0, -0.5, 0, 0, -1e9})},
                       packed(2)));
  cases.push_back(make("Attention", "packed_causal_full_mask_1x11x72_h4",
                       {in(f, {1, 11, 72}), omitted(), omitted(), in(f, {1, 4, 11, 11})}, packed(4, 1)));
  // Head dim 64 (the tensor-core shape on cuda in 16 bits), a padding mask, several row blocks.
  std::vector<double> pad(2 * 64, 0.0);
  for (int64_t j = 50; j < 64; ++j) pad[static_cast<size_t>(j)] = -kInf;
  cases.push_back(make("Attention", "packed_d64_2x64x384_h2_pad_mask",
                       {in(f, {2, 64, 384}), omitted(), omitted(), vals(f, {2, 1, 1, 64}, pad)}, packed(2)));
  cases.push_back(make("Attention", "packed_causal_d64_1x70x576_h3",
                       {in(f, {1, 70, 576}), omitted(), omitted()}, packed(3, 1)));
  for (DT t : {DT::kFloat16, DT::kBFloat16}) {
    cases.push_back(make("Attention", tn(t) + "_packed_d64_mask_h2",
                         {in(t, {2, 33, 384}), omitted(), omitted(), vals(t, {2, 1, 1, 33}, {0, 0, -kInf})}, packed(2),
                         tol_for(t)));
    cases.push_back(make("Attention", tn(t) + "_packed_causal_h4", {in(t, {1, 7, 48}), omitted(), omitted()},
                         packed(4, 1), tol_for(t)));
  }
}

void add_attention(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  cases.push_back(make("Attention", "self_2x6x12_h3", {in(f, {2, 6, 12}), in(f, {2, 6, 12}), in(f, {2, 6, 12})},
                       heads(3)));
  cases.push_back(make("Attention", "cross_sq5_sk7_h3", {in(f, {2, 5, 12}), in(f, {2, 7, 12}), in(f, {2, 7, 12})},
                       heads(3)));
  cases.push_back(make("Attention", "dv_ne_dh_h4", {in(f, {2, 5, 12}), in(f, {2, 7, 12}), in(f, {2, 7, 20})},
                       heads(4)));
  cases.push_back(make("Attention", "one_head_scale", {in(f, {1, 4, 8}), in(f, {1, 9, 8}), in(f, {1, 9, 3})},
                       heads(1, 0, 0.3f)));
  cases.push_back(make("Attention", "causal_square_2x6x8_h2", {in(f, {2, 6, 8}), in(f, {2, 6, 8}), in(f, {2, 6, 8})},
                       heads(2, 1)));
  // Sq < Sk: the queries are the last Sq positions (a decoder step with a cache).
  cases.push_back(make("Attention", "causal_sq3_sk7", {in(f, {2, 3, 8}), in(f, {2, 7, 8}), in(f, {2, 7, 8})},
                       heads(2, 1)));
  // Sq > Sk: the first queries see no key at all and give zeros.
  cases.push_back(make("Attention", "causal_sq6_sk4_zero_rows", {in(f, {1, 6, 8}), in(f, {1, 4, 8}), in(f, {1, 4, 8})},
                       heads(2, 1)));
  cases.push_back(make("Attention", "mask_full_2x2x5x7",
                       {in(f, {2, 5, 12}), in(f, {2, 7, 12}), in(f, {2, 7, 12}), in(f, {2, 2, 5, 7})}, heads(2)));
  cases.push_back(make("Attention", "mask_padding_bx1x1xsk",
                       {in(f, {2, 5, 12}), in(f, {2, 7, 12}), in(f, {2, 7, 12}),
                        vals(f, {2, 1, 1, 7}, {0, 0, 0, 0, 0, -kInf, -kInf, 0, 0, 0, 0, 0, 0, -1e9})},
                       heads(3)));
  cases.push_back(make("Attention", "mask_sq_sk_causal",
                       {in(f, {2, 4, 6}), in(f, {2, 4, 6}), in(f, {2, 4, 6}), in(f, {4, 4})}, heads(2, 1)));
  cases.push_back(make("Attention", "mask_row_all_inf",
                       {in(f, {1, 3, 4}), in(f, {1, 5, 4}), in(f, {1, 5, 4}),
                        vals(f, {3, 5}, {0, 0, 0, 0, -kInf, -kInf, -kInf, -kInf, -kInf, -kInf, 0.5, 0, -0.5, 0, 0})},
                       heads(2)));
  cases.push_back(make("Attention", "mask_1xsk_large_negative",
                       {in(f, {2, 3, 4}), in(f, {2, 5, 4}), in(f, {2, 5, 4}),
                        vals(f, {1, 5}, {0, -3.4028234663852886e38, 0, -3.4028234663852886e38, 0})},
                       heads(1)));
  cases.push_back(make("Attention", "empty_sk0", {in(f, {1, 3, 4}), in(f, {1, 0, 4}), in(f, {1, 0, 4})}, heads(2)));
  for (DT t : {DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("Attention", tn(t) + "_mask_h2",
                         {in(t, {2, 5, 8}), in(t, {2, 6, 8}), in(t, {2, 6, 10}), in(t, {2, 1, 5, 6})}, heads(2),
                         tol_for(t)));
    cases.push_back(make("Attention", tn(t) + "_causal_h4",
                         {in(t, {1, 7, 16}), in(t, {1, 7, 16}), in(t, {1, 7, 16})}, heads(4, 1), tol_for(t)));
  }
  add_attention_cpu_paths(cases);
  add_packed_attention(cases);
}

void add_rms_normalization(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  cases.push_back(make("RMSNormalization", "last_axis_2x5x16", {in(f, {2, 5, 16}), weights(f, {16})}));
  cases.push_back(make("RMSNormalization", "axis_minus2_scale_5x16", {in(f, {2, 5, 16}), weights(f, {5, 16})},
                       [](Attributes& a) { a.set_int("axis", -2); }));
  cases.push_back(make("RMSNormalization", "axis1_scale_bcast_1x16", {in(f, {3, 5, 16}), weights(f, {1, 16})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
  cases.push_back(make("RMSNormalization", "axis0_epsilon", {in(f, {4, 6}), weights(f, {1})}, [](Attributes& a) {
    a.set_int("axis", 0);
    a.set_float("epsilon", 0.1f);
  }));
  cases.push_back(make("RMSNormalization", "rank1_33", {in(f, {33}), in(f, {33})}));
  cases.push_back(make("RMSNormalization", "zeros_row", {vals(f, {2, 4}, {0, 0, 0, 0, 1, -2, 3, -4}), in(f, {4})}));
  for (DT t : {DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("RMSNormalization", tn(t) + "_3x7x32", {in(t, {3, 7, 32}), weights(t, {32})}, {}, tol_for(t)));
  }
}

// RMSNormalization for the cpu kernel's paths: rows around the vector widths, a parallel
// 64 x 768, a scale covering two normalized dims exactly, and one broadcast within them.
void add_rms_normalization_kernel_cases(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  for (int64_t cols : {1, 7, 8, 16, 37}) {
    cases.push_back(make("RMSNormalization", "rows_3x" + std::to_string(cols), {in(f, {3, cols}), weights(f, {cols})}));
  }
  cases.push_back(make("RMSNormalization", "parallel_64x768", {in(f, {64, 768}), weights(f, {768})},
                       [](Attributes& a) { a.set_float("epsilon", 1e-6f); }));
  cases.push_back(make("RMSNormalization", "axis1_exact_scale_3x5x19", {in(f, {3, 5, 19}), weights(f, {5, 19})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
  cases.push_back(make("RMSNormalization", "axis1_scale_5x1_3x5x19", {in(f, {3, 5, 19}), weights(f, {5, 1})},
                       [](Attributes& a) { a.set_int("axis", 1); }));
}

}  // namespace

void add_fused_cases(std::vector<Case>& cases) {
  add_fused_conv(cases);
  add_fused_matmul(cases);
  add_fused_pointwise(cases);
  add_fused_pointwise_cpu_paths(cases);
  add_attention(cases);
  add_rms_normalization(cases);
  add_rms_normalization_kernel_cases(cases);
}

}  // namespace kiln::harness
