// Harness cases for the pooling and normalization ops: odd spatial sizes, each padding mode,
// ceil mode, dilations, optional outputs, old-opset variants and every float dtype.
#include <cmath>
#include <string>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64};



Case make(const std::string& op, const std::string& suffix, std::vector<CaseInput> inputs, int opset,
          std::function<void(Attributes&)> attrs = {}, size_t num_outputs = 1) {
  Case c;
  c.name = op + "_" + suffix;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.num_outputs = num_outputs;
  return c;
}


// The pooling attribute variants every windowed pool is tried with (2-D unless noted).
struct PoolVariant {
  const char* name;
  Dims dims;
  std::function<void(Attributes&)> attrs;
};

std::vector<PoolVariant> pool_variants() {
  return {
      {"k3s2p1_5x7x11x13", {5, 7, 11, 13},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {3, 3});
         a.set_ints("strides", {2, 2});
         a.set_ints("pads", {1, 1, 1, 1});
       }},
      {"k2x3_asym_pads_3x4x9x10", {3, 4, 9, 10},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {2, 3});
         a.set_ints("pads", {0, 2, 1, 1});
       }},
      {"ceil_k3s2_2x3x10x11", {2, 3, 10, 11},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {3, 3});
         a.set_ints("strides", {2, 2});
         a.set_int("ceil_mode", 1);
       }},
      {"ceil_drop_last_k1s2_1x2x5x5", {1, 2, 5, 5},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {1, 1});
         a.set_ints("strides", {2, 2});
         a.set_ints("pads", {0, 0, 1, 1});
         a.set_int("ceil_mode", 1);
       }},
      {"same_upper_k4s3_2x3x11x13", {2, 3, 11, 13},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {4, 4});
         a.set_ints("strides", {3, 3});
         a.set_string("auto_pad", "SAME_UPPER");
       }},
      {"same_lower_k4s3_2x3x11x13", {2, 3, 11, 13},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {4, 4});
         a.set_ints("strides", {3, 3});
         a.set_string("auto_pad", "SAME_LOWER");
       }},
      {"valid_k3s2_2x3x11x13", {2, 3, 11, 13},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {3, 3});
         a.set_ints("strides", {2, 2});
         a.set_string("auto_pad", "VALID");
       }},
      {"dilated_k3d2_2x3x11x13", {2, 3, 11, 13},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {3, 3});
         a.set_ints("dilations", {2, 2});
         a.set_ints("pads", {1, 2, 1, 2});
         a.set_int("ceil_mode", 1);
         a.set_ints("strides", {2, 1});
       }},
      {"1d_k3s2_3x5x17", {3, 5, 17},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {3});
         a.set_ints("strides", {2});
         a.set_ints("pads", {1, 1});
       }},
      {"3d_k2x3x2_2x3x5x7x6", {2, 3, 5, 7, 6},
       [](Attributes& a) {
         a.set_ints("kernel_shape", {2, 3, 2});
         a.set_ints("strides", {2, 1, 2});
         a.set_ints("pads", {0, 1, 1, 1, 1, 0});
       }},
      {"empty_batch_0x3x5x5", {0, 3, 5, 5}, [](Attributes& a) { a.set_ints("kernel_shape", {2, 2}); }},
  };
}

void add_pool_cases(std::vector<Case>& cases) {
  for (const PoolVariant& v : pool_variants()) {
    cases.push_back(make("MaxPool", "f32_" + std::string(v.name), {in(DataType::kFloat32, v.dims)}, 22, v.attrs));
    cases.push_back(make("AveragePool", "f32_" + std::string(v.name), {in(DataType::kFloat32, v.dims)}, 22, v.attrs));
    cases.push_back(make("AveragePool", "f32_incl_pad_" + std::string(v.name), {in(DataType::kFloat32, v.dims)}, 22,
                         [f = v.attrs](Attributes& a) {
                           f(a);
                           a.set_int("count_include_pad", 1);
                         }));
    cases.push_back(make("LpPool", "f32_p3_" + std::string(v.name), {in(DataType::kFloat32, v.dims)}, 22,
                         [f = v.attrs](Attributes& a) {
                           f(a);
                           a.set_int("p", 3);
                         }));
  }
  const PoolVariant base = pool_variants()[0];
  for (DataType t : kFloats) {
    cases.push_back(make("MaxPool", tn(t) + "_" + base.name, {in(t, base.dims)}, 22, base.attrs));
    cases.push_back(make("AveragePool", tn(t) + "_" + base.name, {in(t, base.dims)}, 22, base.attrs));
    cases.push_back(make("LpPool", tn(t) + "_p2_" + base.name, {in(t, base.dims)}, 22, base.attrs));
  }
  for (DataType t : {DataType::kInt8, DataType::kUInt8}) {
    cases.push_back(make("MaxPool", tn(t) + "_" + base.name, {in(t, base.dims)}, 12, base.attrs));
  }
  // Indices output, row-major and column-major.
  for (int order : {0, 1}) {
    for (const PoolVariant& v : {pool_variants()[0], pool_variants()[9]}) {
      cases.push_back(make("MaxPool", "indices_order" + std::to_string(order) + "_" + v.name,
                           {in(DataType::kFloat32, v.dims)}, 22,
                           [f = v.attrs, order](Attributes& a) {
                             f(a);
                             a.set_int("storage_order", order);
                           },
                           2));
    }
  }
  // Old opsets: AveragePool 7 (no ceil_mode), MaxPool 8, LpPool 2.
  cases.push_back(make("AveragePool", "opset7_f32_" + std::string(base.name), {in(DataType::kFloat32, base.dims)}, 7, base.attrs));
  cases.push_back(make("MaxPool", "opset8_f32_" + std::string(base.name), {in(DataType::kFloat32, base.dims)}, 8, base.attrs));
  cases.push_back(make("LpPool", "opset2_f32_p1_" + std::string(base.name), {in(DataType::kFloat32, base.dims)}, 2,
                       [f = base.attrs](Attributes& a) {
                         f(a);
                         a.set_int("p", 1);
                       }));
  // ResNet's stem pool and a typical large-kernel average pool.
  cases.push_back(make("MaxPool", "resnet_stem_1x8x56x56", {in(DataType::kFloat32, {1, 8, 56, 56})}, 11, [](Attributes& a) {
    a.set_ints("kernel_shape", {3, 3});
    a.set_ints("strides", {2, 2});
    a.set_ints("pads", {1, 1, 1, 1});
  }));
  cases.push_back(make("AveragePool", "k7_1x16x7x7", {in(DataType::kFloat32, {1, 16, 7, 7})}, 11,
                       [](Attributes& a) { a.set_ints("kernel_shape", {7, 7}); }));
}

void add_global_pool_cases(std::vector<Case>& cases) {
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}) {
    for (DataType t : kFloats) {
      cases.push_back(make(op, tn(t) + "_5x7x11x13", {in(t, {5, 7, 11, 13})}, 22));
    }
    cases.push_back(make(op, "f32_1d_3x4x17", {in(DataType::kFloat32, {3, 4, 17})}, 22));
    cases.push_back(make(op, "f32_3d_2x3x4x5x6", {in(DataType::kFloat32, {2, 3, 4, 5, 6})}, 22));
    cases.push_back(make(op, "f32_empty_0x3x4x4", {in(DataType::kFloat32, {0, 3, 4, 4})}, 22));
    cases.push_back(make(op, "f32_opset1_2x3x5x5", {in(DataType::kFloat32, {2, 3, 5, 5})}, 1));
  }
  // The cpu kernel: several threads over planes, long planes (several float chunks), rank 2.
  cases.push_back(make("GlobalAveragePool", "f32_threads_1x64x33x31", {in(DataType::kFloat32, {1, 64, 33, 31})}, 22));
  cases.push_back(make("GlobalAveragePool", "f32_long_plane_2x3x100x101", {in(DataType::kFloat32, {2, 3, 100, 101})}, 22));
  cases.push_back(make("GlobalAveragePool", "f32_rank2_3x5", {in(DataType::kFloat32, {3, 5})}, 22));
  cases.push_back(make("GlobalAveragePool", "f32_nan_inf_2x3x2x2",
                       {vals(DataType::kFloat32, {2, 3, 2, 2}, {1, NAN, 2, 3, INFINITY, 1, -INFINITY, 2, 5})}, 22));
  cases.push_back(make("GlobalLpPool", "f32_p3_5x7x11x13", {in(DataType::kFloat32, {5, 7, 11, 13})}, 22,
                       [](Attributes& a) { a.set_int("p", 3); }));
}

void add_max_unpool_cases(std::vector<Case>& cases) {
  auto k2s2 = [](Attributes& a) {
    a.set_ints("kernel_shape", {2, 2});
    a.set_ints("strides", {2, 2});
  };
  for (DataType t : kFloats) {
    cases.push_back(make("MaxUnpool", tn(t) + "_1x1x2x2",
                         {in(t, {1, 1, 2, 2}), in(DataType::kInt64, {1, 1, 2, 2}, Fill::kValues, {5, 7, 13, 15})}, 22, k2s2));
  }
  cases.push_back(make("MaxUnpool", "f32_output_shape_1x1x2x2",
                       {in(DataType::kFloat32, {1, 1, 2, 2}), in(DataType::kInt64, {1, 1, 2, 2}, Fill::kValues, {5, 7, 13, 15}),
                        in(DataType::kInt64, {4}, Fill::kValues, {1, 1, 5, 5}, true)},
                       11, k2s2));
  // Two planes: indices are flat over the whole unpooled tensor.
  cases.push_back(make("MaxUnpool", "f32_2planes_1x2x2x3",
                       {in(DataType::kFloat32, {1, 2, 2, 3}),
                        in(DataType::kInt64, {1, 2, 2, 3}, Fill::kValues, {0, 3, 4, 13, 14, 23, 24, 27, 29, 37, 42, 47})},
                       22, k2s2));
}

void add_batch_norm_cases(std::vector<Case>& cases) {
  auto params = [](DataType t, int64_t c, bool constant) {
    return std::vector<CaseInput>{in(t, {c}, Fill::kRandom, {}, constant), in(t, {c}, Fill::kRandom, {}, constant),
                                  in(t, {c}, Fill::kRandom, {}, constant), in(t, {c}, Fill::kPositive, {}, constant)};
  };
  for (DataType t : kFloats) {
    std::vector<CaseInput> ins = {in(t, {5, 7, 11, 13})};
    for (CaseInput& p : params(t, 7, true)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", tn(t) + "_5x7x11x13", ins, 15));
  }
  {
    // Mixed dtypes (T, T1, T2 differ from opset 15).
    std::vector<CaseInput> ins = {in(DataType::kFloat16, {2, 3, 5, 7})};
    for (CaseInput& p : params(DataType::kFloat32, 3, false)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", "f16_params_f32_2x3x5x7", ins, 15));
  }
  for (int opset : {6, 7, 9, 14, 15}) {
    std::vector<CaseInput> ins = {in(DataType::kFloat32, {3, 4, 7})};
    for (CaseInput& p : params(DataType::kFloat32, 4, false)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", "f32_opset" + std::to_string(opset) + "_3x4x7", ins, opset,
                         [opset](Attributes& a) {
                           a.set_float("epsilon", 1e-3f);
                           if (opset < 7) a.set_int("is_test", 1);
                           if (opset < 9) a.set_int("spatial", 1);
                         }));
  }
  {
    std::vector<CaseInput> ins = {in(DataType::kFloat32, {4, 3})};
    for (CaseInput& p : params(DataType::kFloat32, 3, false)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", "f32_rank2_4x3", ins, 15));
  }
  {
    // spatial=0 (opset 7): per-element parameters of shape C x D.
    std::vector<CaseInput> ins = {in(DataType::kFloat32, {3, 4, 5}), in(DataType::kFloat32, {4, 5}),
                                  in(DataType::kFloat32, {4, 5}), in(DataType::kFloat32, {4, 5}),
                                  in(DataType::kFloat32, {4, 5}, Fill::kPositive)};
    cases.push_back(make("BatchNormalization", "f32_spatial0_3x4x5", ins, 7, [](Attributes& a) { a.set_int("spatial", 0); }));
  }
  for (DataType t : {DataType::kFloat32, DataType::kFloat64}) {
    std::vector<CaseInput> ins = {in(t, {4, 3, 5, 6})};
    for (CaseInput& p : params(t, 3, false)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", "training_" + tn(t) + "_4x3x5x6", ins, 15,
                         [](Attributes& a) {
                           a.set_int("training_mode", 1);
                           a.set_float("momentum", 0.8f);
                         },
                         3));
  }
  {
    std::vector<CaseInput> ins = {in(DataType::kFloat32, {0, 3, 5})};
    for (CaseInput& p : params(DataType::kFloat32, 3, false)) ins.push_back(p);
    cases.push_back(make("BatchNormalization", "f32_empty_0x3x5", ins, 15));
  }
}

void add_norm_cases(std::vector<Case>& cases) {
  for (DataType t : kFloats) {
    cases.push_back(make("InstanceNormalization", tn(t) + "_5x7x11x13",
                         {in(t, {5, 7, 11, 13}), in(t, {7}), in(t, {7})}, 22));
  }
  cases.push_back(make("InstanceNormalization", "f32_eps_opset6_3x4x17",
                       {in(DataType::kFloat32, {3, 4, 17}), in(DataType::kFloat32, {4}), in(DataType::kFloat32, {4})}, 6,
                       [](Attributes& a) { a.set_float("epsilon", 1e-2f); }));

  // LayerNormalization: each axis of a rank-4 input, with and without B, with both stats outputs.
  for (int64_t axis : {-1, 1, 0, -3}) {
    const Dims x = {5, 7, 11, 13};
    const int64_t ax = axis < 0 ? axis + 4 : axis;
    const Dims w(x.begin() + ax, x.end());
    cases.push_back(make("LayerNormalization", "f32_axis" + std::to_string(axis) + "_5x7x11x13",
                         {in(DataType::kFloat32, x), in(DataType::kFloat32, w), in(DataType::kFloat32, w)}, 17,
                         [axis](Attributes& a) { a.set_int("axis", axis); }, 3));
  }
  for (DataType t : kFloats) {
    cases.push_back(make("LayerNormalization", tn(t) + "_noB_3x5x17", {in(t, {3, 5, 17}), in(t, {17})}, 17, {}, 1));
  }
  cases.push_back(make("LayerNormalization", "f32_bcast_scale_3x5x17",
                       {in(DataType::kFloat32, {3, 5, 17}), in(DataType::kFloat32, {1, 17}), in(DataType::kFloat32, {5, 1})},
                       17, [](Attributes& a) { a.set_int("axis", 1); }, 3));

  // GroupNormalization: per-group parameters at opset 18, per-channel from 21.
  for (DataType t : kFloats) {
    cases.push_back(make("GroupNormalization", tn(t) + "_opset21_3x6x5x7", {in(t, {3, 6, 5, 7}), in(t, {6}), in(t, {6})}, 21,
                         [](Attributes& a) { a.set_int("num_groups", 3); }));
  }
  cases.push_back(make("GroupNormalization", "f32_opset18_3x6x5x7",
                       {in(DataType::kFloat32, {3, 6, 5, 7}), in(DataType::kFloat32, {2}), in(DataType::kFloat32, {2})}, 18,
                       [](Attributes& a) {
                         a.set_int("num_groups", 2);
                         a.set_float("epsilon", 1e-3f);
                       }));
  cases.push_back(make("GroupNormalization", "f32_one_group_2x4x9",
                       {in(DataType::kFloat32, {2, 4, 9}), in(DataType::kFloat32, {4}), in(DataType::kFloat32, {4})}, 21,
                       [](Attributes& a) { a.set_int("num_groups", 1); }));

  for (DataType t : kFloats) {
    for (int64_t p : {1, 2}) {
      cases.push_back(make("LpNormalization", tn(t) + "_p" + std::to_string(p) + "_5x7x11x13", {in(t, {5, 7, 11, 13})}, 22,
                           [p](Attributes& a) { a.set_int("p", p); }));
    }
  }
  cases.push_back(make("LpNormalization", "f32_axis1_4x9x5", {in(DataType::kFloat32, {4, 9, 5})}, 1,
                       [](Attributes& a) { a.set_int("axis", 1); }));

  for (DataType t : kFloats) {
    cases.push_back(make("MeanVarianceNormalization", tn(t) + "_5x7x11x13", {in(t, {5, 7, 11, 13})}, 13));
  }
  cases.push_back(make("MeanVarianceNormalization", "f32_axes_m1_1_4x6x9", {in(DataType::kFloat32, {4, 6, 9})}, 13,
                       [](Attributes& a) { a.set_ints("axes", {-1, 1}); }));
  cases.push_back(make("MeanVarianceNormalization", "f32_opset9_3x4x5x6", {in(DataType::kFloat32, {3, 4, 5, 6})}, 9));

  for (DataType t : kFloats) {
    cases.push_back(make("LRN", tn(t) + "_size3_5x7x11x13", {in(t, {5, 7, 11, 13})}, 13, [](Attributes& a) { a.set_int("size", 3); }));
  }
  cases.push_back(make("LRN", "f32_size4_attrs_3x9x5x5", {in(DataType::kFloat32, {3, 9, 5, 5})}, 1, [](Attributes& a) {
    a.set_int("size", 4);
    a.set_float("alpha", 2e-3f);
    a.set_float("beta", 0.5f);
    a.set_float("bias", 2.0f);
  }));
  cases.push_back(make("LRN", "f32_3d_2x6x7x4x3", {in(DataType::kFloat32, {2, 6, 7, 4, 3})}, 13, [](Attributes& a) { a.set_int("size", 5); }));
}

void add_dropout_cases(std::vector<Case>& cases) {
  for (DataType t : kFloats) {
    cases.push_back(make("Dropout", tn(t) + "_mask_5x7x11x13", {in(t, {5, 7, 11, 13})}, 22, {}, 2));
  }
  cases.push_back(make("Dropout", "f32_opset7_mask_3x4x5", {in(DataType::kFloat32, {3, 4, 5})}, 7,
                       [](Attributes& a) { a.set_float("ratio", 0.3f); }, 2));
  cases.push_back(make("Dropout", "f32_opset10_mask_3x4x5", {in(DataType::kFloat32, {3, 4, 5})}, 10, {}, 2));
  cases.push_back(make("Dropout", "f32_opset6_is_test_3x4x5", {in(DataType::kFloat32, {3, 4, 5})}, 6,
                       [](Attributes& a) { a.set_int("is_test", 1); }));
  cases.push_back(make("Dropout", "f32_ratio_training_false_3x4x5",
                       {in(DataType::kFloat32, {3, 4, 5}), in(DataType::kFloat32, {}, Fill::kValues, {0.25}, true),
                        in(DataType::kBool, {}, Fill::kValues, {0}, true)},
                       13, {}, 2));
  cases.push_back(make("Dropout", "f32_training_zero_ratio_3x4x5",
                       {in(DataType::kFloat32, {3, 4, 5}), in(DataType::kFloat32, {}, Fill::kValues, {0}, true),
                        in(DataType::kBool, {}, Fill::kValues, {1}, true)},
                       13, {}, 2));
  cases.push_back(make("Dropout", "f32_omitted_ratio_3x4x5", {in(DataType::kFloat32, {3, 4, 5}), omitted()}, 13));
  cases.push_back(make("Dropout", "f32_scalar", {in(DataType::kFloat32, {})}, 13));
}

// LayerNormalization for the cpu kernel's paths: rows of 1, 7, 8, 16, 33 and 96 (around the AVX2
// and AVX-512 widths), enough rows to run in parallel, the statistics outputs, a mean far from
// zero against a small spread, stash_type double, parameters broadcast within a row (expanded)
// or varying across rows (reference path), and empty tensors.
void add_layer_norm_kernel_cases(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  auto w = [](Dims d) { return in(DataType::kFloat32, std::move(d), Fill::kRandom, {}, true); };
  for (int64_t cols : {1, 7, 8, 16, 33, 96}) {
    cases.push_back(make("LayerNormalization", "f32_4x" + std::to_string(cols), {in(f, {4, cols}), w({cols}), w({cols})}, 17));
  }
  cases.push_back(make("LayerNormalization", "f32_64x768", {in(f, {64, 768}), w({768}), w({768})}, 17,
                       [](Attributes& a) { a.set_float("epsilon", 1e-12f); }));
  cases.push_back(make("LayerNormalization", "f32_noB_2x40x513", {in(f, {2, 40, 513}), w({513})}, 17));
  cases.push_back(make("LayerNormalization", "f32_stats_axis_m2_3x5x37", {in(f, {3, 5, 37}), w({5, 37}), w({5, 37})}, 17,
                       [](Attributes& a) { a.set_int("axis", -2); }, 3));
  cases.push_back(make("LayerNormalization", "f32_mean_only_6x19", {in(f, {6, 19}), w({19}), w({19})}, 17, {}, 2));
  cases.push_back(make("LayerNormalization", "f32_stats_axis0_4x9", {in(f, {4, 9}), w({4, 9}), w({4, 9})}, 17,
                       [](Attributes& a) { a.set_int("axis", 0); }, 3));
  std::vector<double> offset;
  for (int i = 0; i < 3 * 37; ++i) offset.push_back(1000.0 + static_cast<double>((i * 37) % 101) / 50.0 - 1.0);
  cases.push_back(make("LayerNormalization", "f32_mean_1000_3x37", {vals(f, {3, 37}, offset), w({37}), w({37})}, 17, {}, 3));
  cases.push_back(make("LayerNormalization", "f32_stash_double_5x21", {in(f, {5, 21}), w({21}), w({21})}, 17,
                       [](Attributes& a) { a.set_int("stash_type", 11); }));
  cases.push_back(make("LayerNormalization", "f32_stash_double_stats_5x21", {in(f, {5, 21}), w({21}), w({21})}, 17,
                       [](Attributes& a) { a.set_int("stash_type", 11); }, 3));
  cases.push_back(make("LayerNormalization", "f32_bcast_within_row_4x6x10", {in(f, {4, 6, 10}), w({6, 1}), w({1})}, 17,
                       [](Attributes& a) { a.set_int("axis", 1); }));
  cases.push_back(make("LayerNormalization", "f32_scale_per_row_3x5x17", {in(f, {3, 5, 17}), w({5, 17}), w({17})}, 17));
  cases.push_back(make("LayerNormalization", "f32_no_rows_0x7", {in(f, {0, 7}), w({7}), w({7})}, 17, {}, 3));
  cases.push_back(make("LayerNormalization", "f32_empty_rows_3x0", {in(f, {3, 0}), w({0}), w({0})}, 17, {}, 3));
}

}  // namespace

void add_pool_norm_cases(std::vector<Case>& cases) {
  add_pool_cases(cases);
  add_global_pool_cases(cases);
  add_max_unpool_cases(cases);
  add_batch_norm_cases(cases);
  add_norm_cases(cases);
  add_dropout_cases(cases);
  add_layer_norm_kernel_cases(cases);
}

}  // namespace kiln::harness
