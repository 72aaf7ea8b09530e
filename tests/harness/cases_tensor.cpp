// Harness cases for the tensor family: shape operands (shape, starts, pads, repeats...) are
// constant int64 inputs, as exporters write them; the data input takes every dtype.
#include <algorithm>
#include <string>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

const DataType kAll[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64,
                         DataType::kInt8,    DataType::kInt16,   DataType::kInt32,    DataType::kInt64,
                         DataType::kUInt8,   DataType::kUInt16,  DataType::kUInt32,   DataType::kUInt64,
                         DataType::kBool};

CaseInput data(DataType t, Dims dims) {
  CaseInput c;
  c.dtype = t;
  c.dims = std::move(dims);
  return c;
}

CaseInput ints(std::vector<double> values, DataType t = DataType::kInt64) {
  CaseInput c;
  c.dtype = t;
  c.dims = {static_cast<int64_t>(values.size())};
  c.fill = Fill::kValues;
  c.values = std::move(values);
  c.constant = true;
  return c;
}

CaseInput scalar(DataType t, double v) {
  CaseInput c;
  c.dtype = t;
  c.fill = Fill::kValues;
  c.values = {v};
  c.constant = true;
  return c;
}


Case make(const std::string& op, const std::string& suffix, std::vector<CaseInput> inputs, int opset = 17,
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


std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += std::to_string(x);
  return s;
}

// The cpu data-movement kernels' paths (src/backends/cpu/kernels/copy_util.h): Transpose with
// every permutation of an odd 4-D shape (rows, blocked 2-D transposes, merged dims), 1/2/8-byte
// elements, the NCHW<->NHWC and attention permutations at sizes that fill whole 8x8 blocks and
// run in parallel, size-1 and zero-sized dims, rank 5 and a rank beyond the kernel's limit;
// Split/Concat on every axis with long and short rows; Slice with steps on the last axis
// (strided loop), reversed axes and the row path.
void add_data_movement_kernel_cases(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    for (DataType t : {f, DataType::kUInt8}) {
      cases.push_back(make("Transpose", tn(t) + "_3x5x7x11_perm" + join_ints(perm), {data(t, {3, 5, 7, 11})}, 17,
                           [perm](Attributes& a) { a.set_ints("perm", perm); }));
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  for (DataType t : {DataType::kFloat16, DataType::kInt64, DataType::kBool, DataType::kInt32}) {
    for (std::vector<int64_t> p : {std::vector<int64_t>{0, 2, 3, 1}, {0, 3, 1, 2}, {0, 2, 1, 3}, {3, 2, 1, 0}}) {
      cases.push_back(make("Transpose", tn(t) + "_2x9x10x17_perm" + join_ints(p), {data(t, {2, 9, 10, 17})}, 17,
                           [p](Attributes& a) { a.set_ints("perm", p); }));
    }
  }
  auto transpose = [&](const std::string& name, DataType t, Dims dims, std::vector<int64_t> p) {
    cases.push_back(make("Transpose", name, {data(t, std::move(dims))}, 17, [p](Attributes& a) { a.set_ints("perm", p); }));
  };
  transpose("nchw_to_nhwc_1x3x96x96", f, {1, 3, 96, 96}, {0, 2, 3, 1});
  transpose("nhwc_to_nchw_2x7x7x256", f, {2, 7, 7, 256}, {0, 3, 1, 2});
  transpose("nhwc_to_nchw_i64_1x7x7x64", DataType::kInt64, {1, 7, 7, 64}, {0, 3, 1, 2});
  transpose("heads_0213_1x64x16x64", f, {1, 64, 16, 64}, {0, 2, 1, 3});
  transpose("heads_0231_1x12x64x64", f, {1, 12, 64, 64}, {0, 2, 3, 1});
  transpose("2d_129x257", f, {129, 257}, {1, 0});
  transpose("2d_parallel_256x256", f, {256, 256}, {1, 0});
  transpose("nchw_to_nhwc_parallel_1x3x136x160", f, {1, 3, 136, 160}, {0, 2, 3, 1});
  transpose("2d_f16_100x300", DataType::kFloat16, {100, 300}, {1, 0});
  transpose("2d_8x8", f, {8, 8}, {1, 0});
  transpose("identity_5x7x11", f, {5, 7, 11}, {0, 1, 2});
  transpose("ones_1x5x1x7", f, {1, 5, 1, 7}, {3, 1, 2, 0});
  transpose("negative_perm_5x7x11", f, {5, 7, 11}, {-1, 0, -2});
  transpose("zero_dim_3x0x5", f, {3, 0, 5}, {2, 0, 1});
  transpose("rank5_2x3x4x5x6", f, {2, 3, 4, 5, 6}, {4, 2, 0, 3, 1});
  transpose("rank13_reference_path", f, {2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3}, {12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0});

  auto split3 = [](int64_t axis) {
    return [axis](Attributes& a) { a.set_int("axis", axis); };
  };
  cases.push_back(make("Split", "qkv_1x16x288", {data(f, {1, 16, 288}), ints({96, 96, 96})}, 13, split3(-1), 3));
  cases.push_back(make("Split", "qkv_parallel_1x85x768", {data(f, {1, 85, 768}), ints({256, 256, 256})}, 13, split3(2), 3));
  cases.push_back(make("Split", "axis0_long_rows_15x4000", {data(f, {15, 4000}), ints({6, 4, 5})}, 13, split3(0), 3));
  cases.push_back(make("Split", "axis0_long_rows_parallel_i64_16x4000", {data(DataType::kInt64, {16, 4000}), ints({10, 6})},
                       13, split3(0), 2));
  cases.push_back(make("Split", "axis1_4d_2x6x5x3", {data(f, {2, 6, 5, 3}), ints({1, 2, 3}, DataType::kInt32)}, 13,
                       split3(1), 3));
  cases.push_back(make("Split", "last_axis_elements_7x5", {data(DataType::kInt16, {7, 5})}, 18,
                       [](Attributes& a) {
                         a.set_int("axis", -1);
                         a.set_int("num_outputs", 5);
                       },
                       5));
  cases.push_back(make("Split", "zero_rows_0x6", {data(f, {0, 6})}, 13, split3(1), 2));
  cases.push_back(make("Split", "one_output_5x7", {data(f, {5, 7})}, 13, split3(1), 1));

  auto concat = [&](const std::string& name, std::vector<CaseInput> ins, int64_t axis) {
    cases.push_back(make("Concat", name, std::move(ins), 13, [axis](Attributes& a) { a.set_int("axis", axis); }));
  };
  concat("axis0_3_inputs", {data(f, {3, 5, 7}), data(f, {1, 5, 7}), data(f, {4, 5, 7})}, 0);
  concat("axis_last_4_inputs", {data(f, {3, 5, 7}), data(f, {3, 5, 1}), data(f, {3, 5, 16}), data(f, {3, 5, 2})}, -1);
  concat("parallel_85x384", {data(f, {85, 384}), data(f, {85, 384})}, 1);
  concat("long_rows_axis0_2x20000", {data(f, {1, 20000}), data(f, {1, 20000})}, 0);
  concat("long_rows_parallel_i64_2x32768", {data(DataType::kInt64, {1, 32768}), data(DataType::kInt64, {1, 32768})}, 1);
  concat("i64_axis1_2x3x5", {data(DataType::kInt64, {2, 3, 5}), data(DataType::kInt64, {2, 4, 5})}, 1);
  concat("single_input_5x7", {data(f, {5, 7})}, 1);
  concat("all_empty_3x0", {data(f, {3, 0}), data(f, {3, 0})}, 1);

  auto slice = [&](const std::string& name, Dims dims, std::vector<double> starts, std::vector<double> ends,
                   std::vector<double> axes, std::vector<double> steps, DataType t = DataType::kFloat32) {
    cases.push_back(make("Slice", name, {data(t, std::move(dims)), ints(starts), ints(ends), ints(axes), ints(steps)}));
  };
  slice("rows_step1_85x769", {85, 769}, {0, 1}, {85, 768}, {0, 1}, {1, 1});
  slice("last_axis_step2_9x11x13", {9, 11, 13}, {1}, {13}, {2}, {2});
  slice("last_axis_reversed_9x11x13", {9, 11, 13}, {-1}, {-100}, {-1}, {-1});
  slice("middle_step3_9x11x13", {9, 11, 13}, {1, 0}, {11, 100}, {1, 2}, {3, 1});
  slice("all_axes_neg_steps_u16_5x7x9", {5, 7, 9}, {-1, 5, 8}, {0, 0, 0}, {0, 1, 2}, {-2, -1, -3}, DataType::kUInt16);
  slice("qkv_slice_1x16x288", {1, 16, 288}, {96}, {192}, {2}, {1});
  slice("zero_dim_input_0x5", {0, 5}, {1}, {4}, {1}, {1});
}

}  // namespace

void add_tensor_cases(std::vector<Case>& cases) {
  const Dims odd = {5, 7, 11, 13};
  // Pure data movement: every dtype.
  for (DataType t : kAll) {
    cases.push_back(make("Reshape", tn(t) + "_0_m1", {data(t, odd), ints({0, -1, 13})}));
    cases.push_back(make("Transpose", tn(t) + "_perm_2031", {data(t, odd)}, 17,
                         [](Attributes& a) { a.set_ints("perm", {2, 0, 3, 1}); }));
    cases.push_back(make("Concat", tn(t) + "_axis1", {data(t, {5, 3, 11}), data(t, {5, 7, 11}), data(t, {5, 0, 11})},
                         17, [](Attributes& a) { a.set_int("axis", 1); }));
    cases.push_back(make("Slice", tn(t) + "_neg_steps",
                         {data(t, odd), ints({-1, 1}), ints({-100, 100}), ints({1, 3}), ints({-2, 3})}));
    cases.push_back(make("Expand", tn(t) + "_bcast", {data(t, {7, 1, 13}), ints({5, 1, 11, 1})}));
    cases.push_back(make("Tile", tn(t) + "_2x1x3", {data(t, {3, 5, 7}), ints({2, 1, 3})}));
    cases.push_back(make("Pad", tn(t) + "_constant", {data(t, {3, 5, 7}), ints({1, 0, 2, 0, 3, -1})}, 18));
    cases.push_back(make("Split", tn(t) + "_uneven_opset18", {data(t, {5, 7, 3})}, 18,
                         [](Attributes& a) {
                           a.set_int("axis", 1);
                           a.set_int("num_outputs", 3);
                         },
                         3));
    cases.push_back(make("Trilu", tn(t) + "_lower_k1", {data(t, {3, 5, 7}), scalar(DataType::kInt64, 1)}, 17,
                         [](Attributes& a) { a.set_int("upper", 0); }));
  }
  const DataType f = DataType::kFloat32;
  // Reshape variants.
  cases.push_back(make("Reshape", "scalar_to_1", {data(f, {}), ints({1})}));
  cases.push_back(make("Reshape", "to_scalar", {data(f, {1, 1}), ints({})}));
  cases.push_back(make("Reshape", "allowzero", {data(f, {0, 3}), ints({3, 0})}, 14,
                       [](Attributes& a) { a.set_int("allowzero", 1); }));
  // -1 next to a copied 0 is ambiguous on an empty tensor (numpy refuses it): infer -1 from 12.
  cases.push_back(make("Reshape", "empty_m1", {data(f, {0, 3, 4}), ints({-1, 12})}));
  cases.push_back(make("Reshape", "opset1_attr", {data(f, odd)}, 1,
                       [](Attributes& a) { a.set_ints("shape", {35, 143}); }));
  // Transpose default, scalar.
  cases.push_back(make("Transpose", "default_reverse", {data(f, odd)}));
  cases.push_back(make("Transpose", "scalar", {data(f, {})}));
  // Split variants.
  cases.push_back(make("Split", "input_split_opset13", {data(f, {5, 12}), ints({2, 0, 10})}, 13,
                       [](Attributes& a) { a.set_int("axis", -1); }, 3));
  cases.push_back(make("Split", "attr_split_opset11", {data(f, {6, 4})}, 11,
                       [](Attributes& a) { a.set_ints("split", {1, 5}); }, 2));
  cases.push_back(make("Split", "equal_opset13", {data(f, {9, 4})}, 13, {}, 3));
  // Slice variants.
  cases.push_back(make("Slice", "opset9_attrs", {data(f, odd)}, 9, [](Attributes& a) {
    a.set_ints("starts", {1, -3});
    a.set_ints("ends", {1000, -1});
    a.set_ints("axes", {0, 3});
  }));
  cases.push_back(make("Slice", "default_axes", {data(f, odd), ints({1, 2}), ints({4, 6})}));
  cases.push_back(make("Slice", "int32_operands",
                       {data(f, odd), ints({0}, DataType::kInt32), ints({-1}, DataType::kInt32),
                        ints({2}, DataType::kInt32), ints({2}, DataType::kInt32)}));
  cases.push_back(make("Slice", "empty_result", {data(f, odd), ints({5}), ints({2}), ints({1})}));
  cases.push_back(make("Slice", "int_max_end", {data(f, {10}), ints({-3}), ints({9223372036854775807.0})}));
  // Squeeze / Unsqueeze / Flatten.
  cases.push_back(make("Squeeze", "all", {data(f, {1, 5, 1, 7})}));
  cases.push_back(make("Squeeze", "axes_input", {data(f, {1, 5, 1, 7}), ints({-2})}, 13));
  cases.push_back(make("Squeeze", "axes_attr", {data(f, {1, 5, 1, 7})}, 11,
                       [](Attributes& a) { a.set_ints("axes", {0, 2}); }));
  cases.push_back(make("Unsqueeze", "axes_input", {data(f, {5, 7}), ints({-1, 0, 2})}, 13));
  cases.push_back(make("Unsqueeze", "axes_attr", {data(f, {5, 7})}, 11,
                       [](Attributes& a) { a.set_ints("axes", {1}); }));
  cases.push_back(make("Unsqueeze", "scalar", {data(f, {}), ints({0})}, 13));
  for (int64_t axis : {0, 2, 4, -1}) {
    cases.push_back(make("Flatten", "axis" + std::to_string(axis), {data(f, odd)}, 13,
                         [axis](Attributes& a) { a.set_int("axis", axis); }));
  }
  // Expand / Tile extras.
  cases.push_back(make("Expand", "shape_smaller", {data(f, {3, 4, 5}), ints({4, 1})}));
  cases.push_back(make("Expand", "scalar", {data(f, {}), ints({2, 3})}));
  cases.push_back(make("Tile", "zero_repeat", {data(f, {3, 5}), ints({0, 2})}));
  // Pad modes and versions.
  for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
    cases.push_back(make("Pad", std::string(mode) + "_5x7x11x13", {data(f, odd), ints({0, 2, 4, 1, 0, 1, 3, 5})}, 19,
                         [mode](Attributes& a) { a.set_string("mode", mode); }));
  }
  cases.push_back(make("Pad", "constant_value", {data(f, {3, 5}), ints({1, 2, 2, 1}), scalar(f, 1.5)}, 13));
  cases.push_back(make("Pad", "axes", {data(f, {3, 5, 7}), ints({1, 2, 0, 3}), omitted(), ints({-1, 0})}, 18));
  cases.push_back(make("Pad", "opset2_attr", {data(f, {3, 5})}, 2, [](Attributes& a) {
    a.set_ints("pads", {1, 1, 1, 1});
    a.set_float("value", -2.0f);
  }));
  cases.push_back(make("Pad", "crop_negative", {data(f, {6, 7}), ints({-1, -2, -2, 1})}, 13,
                       [](Attributes& a) { a.set_string("mode", "edge"); }));
  // Shape / Size.
  cases.push_back(make("Shape", "5x7x11x13", {data(f, odd)}));
  cases.push_back(make("Shape", "start_end", {data(f, odd)}, 15, [](Attributes& a) {
    a.set_int("start", -3);
    a.set_int("end", -1);
  }));
  cases.push_back(make("Shape", "scalar", {data(f, {})}, 15));
  cases.push_back(make("Size", "5x7x11x13", {data(f, odd)}));
  cases.push_back(make("Size", "empty", {data(f, {0, 4})}));
  // Constant / ConstantOfShape.
  cases.push_back(make("Constant", "value_floats", {}, 13, [](Attributes& a) { a.set_floats("value_floats", {1.5f, -2.0f}); }));
  cases.push_back(make("Constant", "value_int", {}, 13, [](Attributes& a) { a.set_int("value_int", 7); }));
  cases.push_back(make("ConstantOfShape", "default", {ints({3, 4})}));
  cases.push_back(make("ConstantOfShape", "empty_shape_scalar", {ints({})}));
  // Range.
  cases.push_back(make("Range", "float", {scalar(f, 1.0), scalar(f, 7.3), scalar(f, 0.7)}));
  cases.push_back(make("Range", "int64_neg", {scalar(DataType::kInt64, 10), scalar(DataType::kInt64, -5),
                                               scalar(DataType::kInt64, -3)}));
  cases.push_back(make("Range", "int16_empty", {scalar(DataType::kInt16, 3), scalar(DataType::kInt16, 3),
                                                 scalar(DataType::kInt16, 1)}));
  cases.push_back(make("Range", "double", {scalar(DataType::kFloat64, -2), scalar(DataType::kFloat64, 2),
                                            scalar(DataType::kFloat64, 0.25)}));
  // EyeLike / Trilu.
  cases.push_back(make("EyeLike", "k2", {data(f, {5, 7})}, 17, [](Attributes& a) { a.set_int("k", 2); }));
  cases.push_back(make("EyeLike", "dtype_int32_kneg", {data(f, {7, 5})}, 17, [](Attributes& a) {
    a.set_int("dtype", static_cast<int64_t>(DataType::kInt32));
    a.set_int("k", -3);
  }));
  cases.push_back(make("Trilu", "upper_default", {data(f, {2, 7, 5})}, 14));
  cases.push_back(make("Trilu", "upper_kneg_big", {data(f, {7, 5}), scalar(DataType::kInt64, -10)}, 14));
  // DepthToSpace / SpaceToDepth.
  cases.push_back(make("DepthToSpace", "DCR", {data(f, {2, 18, 5, 7})}, 13, [](Attributes& a) { a.set_int("blocksize", 3); }));
  cases.push_back(make("DepthToSpace", "CRD", {data(f, {2, 18, 5, 7})}, 13, [](Attributes& a) {
    a.set_int("blocksize", 3);
    a.set_string("mode", "CRD");
  }));
  cases.push_back(make("SpaceToDepth", "b2", {data(f, {2, 3, 6, 10})}, 13, [](Attributes& a) { a.set_int("blocksize", 2); }));
  // OneHot.
  {
    CaseInput idx;
    idx.dtype = DataType::kInt64;
    idx.dims = {3, 4};
    idx.fill = Fill::kValues;
    idx.values = {0, 1, 4, -1, -5, 5, 2, 3, -6, 9, 0, 1};
    cases.push_back(make("OneHot", "axis1_neg_and_oob", {idx, scalar(DataType::kInt64, 5), ints({-1, 3}, DataType::kFloat32)},
                         11, [](Attributes& a) { a.set_int("axis", 1); }));
    idx.dtype = DataType::kFloat32;
    cases.push_back(make("OneHot", "float_indices", {idx, scalar(DataType::kFloat32, 6), ints({0, 1}, DataType::kInt32)}));
  }
  // CenterCropPad.
  cases.push_back(make("CenterCropPad", "crop_and_pad", {data(f, {5, 8, 3}), ints({8, 3})}, 18,
                       [](Attributes& a) { a.set_ints("axes", {0, 1}); }));
  cases.push_back(make("CenterCropPad", "all_axes", {data(f, {5, 8, 3}), ints({4, 11, 3})}, 18));
  // ReverseSequence.
  {
    CaseInput lens = ints({4, 0, 7, 1, 2});
    cases.push_back(make("ReverseSequence", "time0", {data(f, {7, 5, 3}), lens}, 10));
    cases.push_back(make("ReverseSequence", "batch0", {data(f, {5, 7, 3}), lens}, 10, [](Attributes& a) {
      a.set_int("batch_axis", 0);
      a.set_int("time_axis", 1);
    }));
  }
  add_data_movement_kernel_cases(cases);
}

}  // namespace kiln::harness
