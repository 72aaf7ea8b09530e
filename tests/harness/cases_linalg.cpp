#include <string>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

using DT = DataType;


Case make(const std::string& op, const std::string& suffix, std::vector<CaseInput> inputs,
          int opset = 17, std::function<void(Attributes&)> attrs = {}, double tol = 1e-5) {
  Case c;
  c.name = op + "_" + suffix;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.tolerance = tol;
  return c;
}

// Looser for the 16-bit floats (one rounding of a long sum).
double tol_for(DT t) { return t == DT::kFloat16 || t == DT::kBFloat16 ? 1e-2 : 1e-5; }

void add_matmul(std::vector<Case>& cases) {
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kFloat64, DT::kInt32, DT::kInt64,
               DT::kUInt32, DT::kUInt64}) {
    cases.push_back(make("MatMul", tn(t) + "_5x7x11_11x13", {in(t, {5, 7, 11}), in(t, {11, 13})},
                         13, {}, tol_for(t)));
  }
  const DT f = DT::kFloat32;
  cases.push_back(
      make("MatMul", "bcast_2x1x3x4_5x4x6", {in(f, {2, 1, 3, 4}), in(f, {5, 4, 6})}, 13));
  cases.push_back(make("MatMul", "vec_mat_7_7x5", {in(f, {7}), in(f, {7, 5})}, 13));
  cases.push_back(make("MatMul", "mat_vec_3x5x7_7", {in(f, {3, 5, 7}), in(f, {7})}, 13));
  cases.push_back(make("MatMul", "vec_vec_9", {in(f, {9}), in(f, {9})}, 13));
  cases.push_back(make("MatMul", "empty_k_3x0_0x4", {in(f, {3, 0}), in(f, {0, 4})}, 13));
  cases.push_back(make("MatMul", "empty_batch_0x3x4_4x2", {in(f, {0, 3, 4}), in(f, {4, 2})}, 13));
}

void add_gemm(std::vector<Case>& cases) {
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kFloat64, DT::kInt32, DT::kInt64,
               DT::kUInt32}) {
    cases.push_back(make("Gemm", tn(t) + "_7x11_11x13_c13",
                         {in(t, {7, 11}), in(t, {11, 13}), in(t, {13})}, 13, {}, tol_for(t)));
  }
  const DT f = DT::kFloat32;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const Dims a = ta ? Dims{11, 7} : Dims{7, 11};
      const Dims b = tb ? Dims{13, 11} : Dims{11, 13};
      cases.push_back(make("Gemm",
                           "trans" + std::to_string(ta) + std::to_string(tb) + "_alpha_beta",
                           {in(f, a), in(f, b), in(f, {7, 13})}, 13, [ta, tb](Attributes& at) {
                             at.set_int("transA", ta);
                             at.set_int("transB", tb);
                             at.set_float("alpha", 0.5f);
                             at.set_float("beta", -1.5f);
                           }));
    }
  }
  cases.push_back(make("Gemm", "c_7x1", {in(f, {7, 11}), in(f, {11, 13}), in(f, {7, 1})}, 13));
  cases.push_back(make("Gemm", "c_1x13", {in(f, {7, 11}), in(f, {11, 13}), in(f, {1, 13})}, 13));
  cases.push_back(make("Gemm", "c_scalar", {in(f, {7, 11}), in(f, {11, 13}), in(f, {})}, 13));
  cases.push_back(make("Gemm", "no_c", {in(f, {7, 11}), in(f, {11, 13})}, 13));
  cases.push_back(make("Gemm", "c_omitted", {in(f, {7, 11}), in(f, {11, 13}), omitted()}, 13));
  cases.push_back(
      make("Gemm", "opset7_c_required", {in(f, {4, 3}), in(f, {3, 5}), in(f, {4, 5})}, 7));
}

void add_einsum(std::vector<Case>& cases) {
  struct E {
    const char* name;
    const char* eq;
    std::vector<Dims> shapes;
  };
  const E kEqs[] = {
      {"matmul", "ij,jk->ik", {{5, 7}, {7, 3}}},
      {"batch_matmul", "bij,bjk->bik", {{4, 5, 7}, {4, 7, 3}}},
      {"implicit_matmul", "ij,jk", {{5, 7}, {7, 3}}},
      {"transpose", "ij->ji", {{5, 7}}},
      {"diagonal", "ii->i", {{6, 6}}},
      {"trace_implicit", "ii", {{6, 6}}},
      {"batch_diagonal", "...ii->...i", {{3, 2, 5, 5}}},
      {"ellipsis_transpose", "...ij->...ji", {{2, 3, 4, 5}}},
      {"ellipsis_bcast", "...ij,...jk->...ik", {{2, 1, 3, 4}, {5, 4, 6}}},
      {"sum_all", "ij->", {{5, 7}}},
      {"inner", "i,i", {{9}, {9}}},
      {"outer", "i,j->ij", {{4}, {6}}},
      {"three_operands", "bn,anm,bm->ba", {{2, 3}, {4, 3, 5}, {2, 5}}},
      {"spaces_upper", "Ab, bC -> CA", {{3, 4}, {4, 5}}},
      {"reduce_middle", "abc->ac", {{5, 7, 11}}},
  };
  for (const E& e : kEqs) {
    for (DT t : {DT::kFloat32, DT::kFloat64, DT::kInt32, DT::kInt64, DT::kFloat16}) {
      std::vector<CaseInput> ins;
      for (const Dims& d : e.shapes) ins.push_back(in(t, d));
      const std::string eq = e.eq;
      cases.push_back(make(
          "Einsum", std::string(e.name) + "_" + tn(t), std::move(ins), 12,
          [eq](Attributes& a) { a.set_string("equation", eq); }, tol_for(t)));
    }
  }
}

void add_integer_matmul(std::vector<Case>& cases) {
  for (DT ta : {DT::kUInt8, DT::kInt8}) {
    for (DT tb : {DT::kUInt8, DT::kInt8}) {
      const std::string sfx = tn(ta) + "_" + tn(tb);
      cases.push_back(
          make("MatMulInteger", sfx + "_3x5x7_7x4_zp",
               {in(ta, {3, 5, 7}), in(tb, {7, 4}), vals(ta, {}, {3}), vals(tb, {}, {2})}, 10));
    }
  }
  cases.push_back(
      make("MatMulInteger", "uint8_no_zp", {in(DT::kUInt8, {5, 7}), in(DT::kUInt8, {7, 4})}, 10));
  cases.push_back(
      make("MatMulInteger", "uint8_per_row_col_zp",
           {in(DT::kUInt8, {5, 7}), in(DT::kUInt8, {7, 4}), vals(DT::kUInt8, {5}, {1, 2, 3, 4, 5}),
            vals(DT::kUInt8, {4}, {0, 1, 2, 3})},
           10));
  for (DT t : {DT::kUInt8, DT::kInt8}) {
    cases.push_back(make("QLinearMatMul", tn(t) + "_2x5x7_7x4",
                         {in(t, {2, 5, 7}), vals(DT::kFloat32, {}, {0.05}), vals(t, {}, {2}),
                          in(t, {7, 4}), vals(DT::kFloat32, {}, {0.03}), vals(t, {}, {1}),
                          vals(DT::kFloat32, {}, {0.02}), vals(t, {}, {3})},
                         10));
    cases.push_back(make("QLinearMatMul", tn(t) + "_f16_scales_opset21",
                         {in(t, {5, 7}), vals(DT::kFloat16, {}, {0.05}), vals(t, {}, {2}),
                          in(t, {7, 4}), vals(DT::kFloat16, {}, {0.03}), vals(t, {}, {1}),
                          vals(DT::kFloat16, {}, {0.02}), vals(t, {}, {3})},
                         21));
  }
}

void add_conv(std::vector<Case>& cases) {
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kFloat64}) {
    cases.push_back(make("Conv", tn(t) + "_2x4x11x13_k3_bias",
                         {in(t, {2, 4, 11, 13}), in(t, {6, 4, 3, 3}), in(t, {6})}, 11, {},
                         tol_for(t)));
  }
  const DT f = DT::kFloat32;
  cases.push_back(make("Conv", "pads_strides_dilations",
                       {in(f, {1, 3, 17, 19}), in(f, {5, 3, 3, 2})}, 11, [](Attributes& a) {
                         a.set_ints("pads", {1, 2, 0, 1});
                         a.set_ints("strides", {2, 3});
                         a.set_ints("dilations", {2, 1});
                       }));
  cases.push_back(make("Conv", "group2", {in(f, {2, 4, 9, 9}), in(f, {6, 2, 3, 3}), in(f, {6})}, 11,
                       [](Attributes& a) { a.set_int("group", 2); }));
  cases.push_back(make("Conv", "depthwise", {in(f, {1, 6, 10, 10}), in(f, {6, 1, 3, 3})}, 11,
                       [](Attributes& a) {
                         a.set_int("group", 6);
                         a.set_ints("pads", {1, 1, 1, 1});
                       }));
  for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    const std::string mode = ap;
    cases.push_back(make("Conv", std::string("auto_pad_") + ap,
                         {in(f, {1, 2, 10, 11}), in(f, {3, 2, 4, 3})}, 11, [mode](Attributes& a) {
                           a.set_string("auto_pad", mode);
                           a.set_ints("strides", {2, 2});
                         }));
  }
  cases.push_back(
      make("Conv", "1d", {in(f, {2, 3, 25}), in(f, {4, 3, 5}), in(f, {4})}, 11, [](Attributes& a) {
        a.set_ints("pads", {2, 1});
        a.set_ints("strides", {2});
      }));
  cases.push_back(
      make("Conv", "3d", {in(f, {1, 2, 7, 8, 9}), in(f, {3, 2, 3, 2, 3})}, 11, [](Attributes& a) {
        a.set_ints("pads", {1, 0, 1, 1, 0, 1});
        a.set_ints("dilations", {1, 2, 1});
      }));
  cases.push_back(make("Conv", "kernel_shape_attr_1x1", {in(f, {1, 8, 5, 7}), in(f, {4, 8, 1, 1})},
                       1, [](Attributes& a) {
                         a.set_ints("kernel_shape", {1, 1});
                       }));
  cases.push_back(make("Conv", "7x7_s2_1x3x64x64",
                       {in(f, {1, 3, 64, 64}), in(f, {8, 3, 7, 7}), in(f, {8})}, 11,
                       [](Attributes& a) {
                         a.set_ints("strides", {2, 2});
                         a.set_ints("pads", {3, 3, 3, 3});
                       }));
  cases.push_back(make("Conv", "empty_batch", {in(f, {0, 2, 5, 5}), in(f, {3, 2, 3, 3})}, 11));
}

void add_conv_transpose(std::vector<Case>& cases) {
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kFloat64}) {
    cases.push_back(make(
        "ConvTranspose", tn(t) + "_s2_bias", {in(t, {2, 3, 5, 6}), in(t, {3, 4, 3, 3}), in(t, {4})},
        11,
        [](Attributes& a) {
          a.set_ints("strides", {2, 2});
        },
        tol_for(t)));
  }
  const DT f = DT::kFloat32;
  cases.push_back(make("ConvTranspose", "pads_output_padding",
                       {in(f, {1, 2, 5, 7}), in(f, {2, 3, 3, 4})}, 11, [](Attributes& a) {
                         a.set_ints("strides", {3, 2});
                         a.set_ints("pads", {1, 0, 2, 1});
                         a.set_ints("output_padding", {1, 1});
                       }));
  cases.push_back(make("ConvTranspose", "group2_dilation",
                       {in(f, {1, 4, 5, 5}), in(f, {4, 3, 3, 3})}, 11, [](Attributes& a) {
                         a.set_int("group", 2);
                         a.set_ints("dilations", {2, 2});
                       }));
  cases.push_back(make("ConvTranspose", "output_shape", {in(f, {1, 1, 3, 3}), in(f, {1, 2, 3, 3})},
                       11, [](Attributes& a) {
                         a.set_ints("strides", {3, 2});
                         a.set_ints("output_shape", {10, 8});
                       }));
  for (const char* ap : {"SAME_UPPER", "SAME_LOWER"}) {
    const std::string mode = ap;
    cases.push_back(make("ConvTranspose", std::string("auto_pad_") + ap,
                         {in(f, {1, 2, 4, 5}), in(f, {2, 2, 3, 3})}, 11, [mode](Attributes& a) {
                           a.set_string("auto_pad", mode);
                           a.set_ints("strides", {2, 2});
                         }));
  }
  cases.push_back(make("ConvTranspose", "1d", {in(f, {2, 3, 9}), in(f, {3, 2, 4})}, 11,
                       [](Attributes& a) { a.set_ints("strides", {2}); }));
  cases.push_back(make("ConvTranspose", "3d", {in(f, {1, 2, 3, 4, 5}), in(f, {2, 3, 3, 3, 2})}, 11,
                       [](Attributes& a) {
                         a.set_ints("strides", {1, 2, 2});
                       }));
}

void add_quantized_conv(std::vector<Case>& cases) {
  for (DT tx : {DT::kUInt8, DT::kInt8}) {
    for (DT tw : {DT::kUInt8, DT::kInt8}) {
      cases.push_back(
          make("ConvInteger", tn(tx) + "_" + tn(tw),
               {in(tx, {1, 3, 9, 10}), in(tw, {4, 3, 3, 3}), vals(tx, {}, {2}), vals(tw, {}, {1})},
               10, [](Attributes& a) {
                 a.set_ints("pads", {1, 1, 1, 1});
               }));
    }
  }
  cases.push_back(make("ConvInteger", "per_channel_w_zp",
                       {in(DT::kUInt8, {2, 2, 7, 7}), in(DT::kUInt8, {3, 2, 3, 3}),
                        vals(DT::kUInt8, {}, {1}), vals(DT::kUInt8, {3}, {0, 1, 2})},
                       10));
  cases.push_back(
      make("ConvInteger", "no_zp", {in(DT::kInt8, {1, 2, 6, 6}), in(DT::kInt8, {2, 2, 2, 2})}, 10));
  for (DT t : {DT::kUInt8, DT::kInt8}) {
    cases.push_back(make("QLinearConv", tn(t) + "_bias",
                         {in(t, {1, 3, 9, 10}), vals(DT::kFloat32, {}, {0.05}), vals(t, {}, {2}),
                          in(t, {4, 3, 3, 3}), vals(DT::kFloat32, {}, {0.04}), vals(t, {}, {1}),
                          vals(DT::kFloat32, {}, {0.03}), vals(t, {}, {4}), in(DT::kInt32, {4})},
                         10, [](Attributes& a) {
                           a.set_ints("pads", {1, 1, 1, 1});
                         }));
  }
  cases.push_back(
      make("QLinearConv", "per_channel_w",
           {in(DT::kUInt8, {1, 2, 8, 8}), vals(DT::kFloat32, {}, {0.05}), vals(DT::kUInt8, {}, {2}),
            in(DT::kInt8, {3, 2, 3, 3}), vals(DT::kFloat32, {3}, {0.01, 0.02, 0.03}),
            vals(DT::kInt8, {3}, {0, 0, 0}), vals(DT::kFloat32, {}, {0.02}),
            vals(DT::kUInt8, {}, {128})},
           10, [](Attributes& a) {
             a.set_ints("strides", {2, 2});
           }));
  const DT f = DT::kFloat32;
  cases.push_back(make("DeformConv", "mask_bias",
                       {in(f, {2, 4, 6, 7}), in(f, {6, 2, 3, 3}), in(f, {2, 2 * 9 * 2, 4, 5}),
                        in(f, {6}), in(f, {2, 2 * 9, 4, 5})},
                       19, [](Attributes& a) {
                         a.set_int("group", 2);
                         a.set_int("offset_group", 2);
                       }));
  cases.push_back(make("DeformConv", "pads_strides",
                       {in(f, {1, 2, 7, 7}), in(f, {3, 2, 2, 2}), in(f, {1, 8, 4, 4})}, 19,
                       [](Attributes& a) {
                         a.set_ints("pads", {1, 1, 1, 1});
                         a.set_ints("strides", {2, 2});
                       }));
}

void add_quantize(std::vector<Case>& cases) {
  const DT f = DT::kFloat32;
  for (DT q : {DT::kUInt8, DT::kInt8}) {
    cases.push_back(make("QuantizeLinear", "per_tensor_" + tn(q),
                         {in(f, {5, 7, 11}), vals(f, {}, {0.01}), vals(q, {}, {3})}, 10));
    cases.push_back(make("DequantizeLinear", "per_tensor_" + tn(q),
                         {in(q, {5, 7, 11}), vals(f, {}, {0.1}), vals(q, {}, {3})}, 10));
  }
  cases.push_back(make("QuantizeLinear", "no_zp_uint8", {in(f, {3, 4}), vals(f, {}, {0.02})}, 13));
  cases.push_back(make("QuantizeLinear", "per_axis_int8",
                       {in(f, {3, 4, 5}), vals(f, {4}, {0.01, 0.02, 0.05, 0.1}),
                        vals(DT::kInt8, {4}, {0, 1, -2, 3})},
                       13));
  cases.push_back(make("QuantizeLinear", "per_axis_neg_axis",
                       {in(f, {3, 4, 5}), vals(f, {5}, {0.01, 0.02, 0.05, 0.1, 0.2}),
                        vals(DT::kUInt8, {5}, {0, 1, 2, 3, 4})},
                       13, [](Attributes& a) { a.set_int("axis", -1); }));
  cases.push_back(make("QuantizeLinear", "int32_x",
                       {in(DT::kInt32, {4, 5}), vals(f, {}, {0.5}), vals(DT::kInt8, {}, {1})}, 13));
  cases.push_back(make(
      "QuantizeLinear", "f16_x_opset19",
      {in(DT::kFloat16, {4, 5}), vals(DT::kFloat16, {}, {0.01}), vals(DT::kUInt8, {}, {128})}, 19));
  cases.push_back(make(
      "QuantizeLinear", "blocked_int16",
      {in(f, {3, 7}), vals(f, {3, 3}, {0.01, 0.02, 0.03}), vals(DT::kInt16, {3, 3}, {0, 1, -1})},
      21, [](Attributes& a) {
        a.set_int("axis", 1);
        a.set_int("block_size", 3);
      }));
  cases.push_back(
      make("QuantizeLinear", "output_dtype_uint16", {in(f, {4, 5}), vals(f, {}, {0.0001})}, 21,
           [](Attributes& a) { a.set_int("output_dtype", static_cast<int64_t>(DT::kUInt16)); }));
  // float8 and int4/uint4 outputs, chosen by output_dtype (a zero point of those types would be
  // an input, and the harness fills inputs only for dispatch_all's types).
  for (DT q : {DT::kFloat8E4M3FN, DT::kFloat8E4M3FNUZ, DT::kFloat8E5M2, DT::kFloat8E5M2FNUZ,
               DT::kInt4, DT::kUInt4}) {
    for (int saturate : {1, 0}) {
      const std::string suffix = "output_dtype_" + tn(q) + (saturate ? "" : "_no_saturate");
      cases.push_back(make("QuantizeLinear", suffix, {in(f, {5, 7, 11}), vals(f, {}, {0.002})}, 21,
                           [q, saturate](Attributes& a) {
                             a.set_int("output_dtype", static_cast<int64_t>(q));
                             a.set_int("saturate", saturate);
                           }));
    }
    cases.push_back(make("QuantizeLinear", "per_axis_" + tn(q),
                         {in(f, {3, 4, 5}), vals(f, {4}, {0.001, 0.1, 0.5, 2.0})}, 21,
                         [q](Attributes& a) {
                           a.set_int("output_dtype", static_cast<int64_t>(q));
                         }));
    cases.push_back(make("QuantizeLinear", "blocked_" + tn(q),
                         {in(DT::kFloat16, {3, 7}), vals(DT::kFloat16, {3, 3}, {0.01, 0.1, 0.3})},
                         21, [q](Attributes& a) {
                           a.set_int("output_dtype", static_cast<int64_t>(q));
                           a.set_int("axis", 1);
                           a.set_int("block_size", 3);
                         }));
  }
  cases.push_back(make(
      "DequantizeLinear", "per_axis_uint8",
      {in(DT::kUInt8, {2, 3, 4}), vals(f, {3}, {0.1, 0.2, 0.3}), vals(DT::kUInt8, {3}, {1, 2, 3})},
      13));
  cases.push_back(
      make("DequantizeLinear", "int32", {in(DT::kInt32, {5, 6}), vals(f, {}, {0.25})}, 13));
  cases.push_back(
      make("DequantizeLinear", "f16_scale",
           {in(DT::kInt8, {5, 6}), vals(DT::kFloat16, {}, {0.25}), vals(DT::kInt8, {}, {-1})}, 19));
  cases.push_back(
      make("DequantizeLinear", "blocked_int16",
           {in(DT::kInt16, {4, 6}), vals(f, {2, 6}, {0.1, 0.2}), vals(DT::kInt16, {2, 6}, {0, 1})},
           21, [](Attributes& a) {
             a.set_int("axis", 0);
             a.set_int("block_size", 2);
           }));
  cases.push_back(make("DequantizeLinear", "uint16_opset21",
                       {in(DT::kUInt16, {7, 3}), vals(DT::kBFloat16, {}, {0.5})}, 21));
  Case d = make("DynamicQuantizeLinear", "f32_5x7x11", {in(f, {5, 7, 11})}, 11);
  d.num_outputs = 3;
  cases.push_back(d);
  Case e = make("DynamicQuantizeLinear", "empty", {in(f, {0, 3})}, 11);
  e.num_outputs = 3;
  cases.push_back(e);
}

void add_det(std::vector<Case>& cases) {
  for (DT t : {DT::kFloat32, DT::kFloat64, DT::kFloat16}) {
    cases.push_back(make("Det", tn(t) + "_3x4x4", {in(t, {3, 4, 4})}, 11, {}, tol_for(t)));
  }
  cases.push_back(make("Det", "2d_7x7", {in(DT::kFloat32, {7, 7})}, 11, {}, 1e-4));
  cases.push_back(
      make("Det", "singular", {vals(DT::kFloat32, {3, 3}, {1, 2, 3, 2, 4, 6, 1, 0, 1})}, 11));
  cases.push_back(make("Det", "empty_batch", {in(DT::kFloat32, {0, 3, 3})}, 11));
}

}  // namespace

void add_linalg_cases(std::vector<Case>& cases) {
  add_matmul(cases);
  add_gemm(cases);
  add_einsum(cases);
  add_integer_matmul(cases);
  add_conv(cases);
  add_conv_transpose(cases);
  add_quantized_conv(cases);
  add_quantize(cases);
  add_det(cases);
}

}  // namespace kiln::harness
