// Harness cases for the tensor family: shape operands (shape, starts, pads, repeats...) are
// constant int64 inputs, as exporters write them; the data input takes every dtype.
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
}

}  // namespace kiln::harness
