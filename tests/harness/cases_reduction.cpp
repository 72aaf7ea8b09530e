// Harness cases for the reduction family: Reduce*, ArgMax/ArgMin, CumSum, Softmax/LogSoftmax/
// Hardmax, TopK and the two loss ops. Odd shapes, each dtype an op takes, axes both as an
// attribute (older opsets) and as an input, keepdims/noop/empty-set variants.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

// Built field by field: brace-initializing CaseInput with fewer fields trips
// -Wmissing-field-initializers (an error under -Werror).
CaseInput input(DataType t, Dims dims, Fill fill = Fill::kRandom, std::vector<double> values = {},
                bool constant = false, bool omitted = false) {
  CaseInput in;
  in.dtype = t;
  in.dims = std::move(dims);
  in.fill = fill;
  in.values = std::move(values);
  in.constant = constant;
  in.omitted = omitted;
  return in;
}

CaseInput int64_const(std::vector<double> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return input(DataType::kInt64, {n}, Fill::kValues, std::move(values), true);
}

Case make(const std::string& name, const std::string& op, int opset, std::vector<CaseInput> inputs,
          std::function<void(Attributes&)> attrs = {}, size_t num_outputs = 1) {
  Case c;
  c.name = name;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  c.num_outputs = num_outputs;
  // 16-bit floats round each output once but the comparison is against float math.
  for (const CaseInput& in : c.inputs) {
    if (in.dtype == DataType::kFloat16 || in.dtype == DataType::kBFloat16) c.tolerance = 1e-2;
  }
  return c;
}

const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64};

struct ReduceOp {
  const char* name;
  int axes_input_since;
  bool positive;  // needs positive inputs (LogSum)
};
const ReduceOp kReduceOps[] = {
    {"ReduceSum", 13, false}, {"ReduceMean", 18, false}, {"ReduceMax", 18, false},
    {"ReduceMin", 18, false}, {"ReduceProd", 18, false}, {"ReduceL1", 18, false},
    {"ReduceL2", 18, false},  {"ReduceLogSum", 18, true}, {"ReduceLogSumExp", 18, false},
    {"ReduceSumSquare", 18, false},
};

void add_reduce_cases(std::vector<Case>& cases) {
  for (const ReduceOp& op : kReduceOps) {
    const std::string o = op.name;
    const Fill fill = op.positive ? Fill::kPositive : Fill::kRandom;
    const int old_opset = op.axes_input_since - 1;
    // axes as an attribute (the opset before it became an input), each float dtype.
    for (DataType t : kFloats) {
      cases.push_back(make(o + "_attr_axes_1_3_" + dtype_name(t), o, old_opset, {input(t, {5, 7, 11, 13}, fill)},
                           [](Attributes& a) { a.set_ints("axes", {1, 3}); }));
    }
    // axes as an input, negative axis, no keepdims.
    cases.push_back(make(o + "_input_axes_neg_nokeep", o, op.axes_input_since,
                         {input(DataType::kFloat32, {5, 7, 11, 13}, fill), int64_const({-2, 0})},
                         [](Attributes& a) { a.set_int("keepdims", 0); }));
    // All axes (none given), with and without keepdims.
    cases.push_back(make(o + "_all_axes_keep", o, op.axes_input_since, {input(DataType::kFloat32, {3, 5, 7}, fill)}));
    cases.push_back(make(o + "_all_axes_nokeep_opset11", o, 11, {input(DataType::kFloat32, {3, 5, 7}, fill)},
                         [](Attributes& a) { a.set_int("keepdims", 0); }));
    // noop_with_empty_axes: the input unchanged.
    cases.push_back(make(o + "_noop_empty_axes", o, op.axes_input_since,
                         {input(DataType::kFloat32, {3, 5, 7}, fill), int64_const({})},
                         [](Attributes& a) { a.set_int("noop_with_empty_axes", 1); }));
    // Empty set: reducing a zero-size axis gives the identity element.
    cases.push_back(make(o + "_empty_set", o, op.axes_input_since,
                         {input(DataType::kFloat32, {2, 0, 4}), int64_const({1})}));
    cases.push_back(make(o + "_empty_nonreduced", o, op.axes_input_since,
                         {input(DataType::kFloat32, {2, 0, 4}), int64_const({2})}));
    // Rank-0 input.
    cases.push_back(make(o + "_scalar", o, op.axes_input_since, {input(DataType::kFloat32, {}, fill)}));
    // Integer inputs.
    for (DataType t : {DataType::kInt32, DataType::kInt64, DataType::kUInt32, DataType::kUInt64}) {
      cases.push_back(make(o + "_" + dtype_name(t), o, 18, {input(t, {4, 6, 5}, Fill::kPositive), int64_const({1})}));
    }
  }
  // ReduceMax/Min: 8-bit integers and (opset 20) bool.
  for (const char* op : {"ReduceMax", "ReduceMin"}) {
    const std::string o = op;
    for (DataType t : {DataType::kInt8, DataType::kUInt8, DataType::kInt16}) {
      cases.push_back(make(o + "_" + dtype_name(t), o, 18, {input(t, {5, 7, 11}), int64_const({0, 2})}));
    }
    cases.push_back(make(o + "_bool", o, 20, {input(DataType::kBool, {5, 7, 11}), int64_const({1})}));
    cases.push_back(make(o + "_bool_empty_set", o, 20, {input(DataType::kBool, {3, 0}), int64_const({1})}));
    cases.push_back(make(o + "_int32_empty_set", o, 18, {input(DataType::kInt32, {3, 0}), int64_const({1})}));
  }
  // Integer sums wrap.
  cases.push_back(make("ReduceSum_int8_wrap", "ReduceSum", 13,
                       {input(DataType::kInt8, {4, 64}, Fill::kValues, {100, 27, -128, 127}), int64_const({1})}));
  cases.push_back(make("ReduceProd_int16_wrap", "ReduceProd", 18,
                       {input(DataType::kInt16, {4, 9}, Fill::kValues, {7, -3, 11, 5}), int64_const({1})}));
  cases.push_back(make("ReduceSum_opset1_attr", "ReduceSum", 1, {input(DataType::kFloat32, {5, 7, 11, 13})},
                       [](Attributes& a) { a.set_ints("axes", {0, 2}); }));
}

// The cpu backend's float32 ReduceSum/Mean/Max: rows ([outer, R], the trailing axes), columns
// ([outer, R, inner]: leading or middle axes, e.g. H and W of NHWC), tiles of 64 columns with a
// ragged last one, more than 256 rows (double partial sums), long rows (several float chunks),
// several threads, reduced dims of 1 only, NaN and infinities; axes as attribute and input.
void add_cpu_reduce_paths(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  struct Layout {
    const char* name;
    Dims dims;
    std::vector<double> axes;
  };
  const Layout layouts[] = {
      {"rows_6x37x45_ax2", {6, 37, 45}, {2}},
      {"rows_6x37x45_ax1_2", {6, 37, 45}, {1, -1}},
      {"rows_long_2x20000", {2, 20000}, {1}},
      {"rows_threads_512x120", {512, 120}, {-1}},
      {"nhwc_2x7x9x67_ax1_2", {2, 7, 9, 67}, {1, 2}},
      {"leading_300x70_ax0", {300, 70}, {0}},
      {"leading_threads_40x1500_ax0", {40, 1500}, {0}},
      {"middle_3x5x130_ax1", {3, 5, 130}, {1}},
      {"ones_only_4x1x6_ax1", {4, 1, 6}, {1}},
      {"ones_around_1x5x1x7x1_ax0_1_2", {1, 5, 1, 7, 1}, {0, 1, 2}},
      {"split_runs_fallback_5x7x11x13", {5, 7, 11, 13}, {0, 2}},
  };
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax"}) {
    const std::string o = op;
    for (const Layout& l : layouts) {
      for (int keep : {0, 1}) {
        cases.push_back(make(o + "_f32_" + l.name + "_keep" + std::to_string(keep), o, 18,
                             {input(f, l.dims), int64_const(l.axes)},
                             [keep](Attributes& a) { a.set_int("keepdims", keep); }));
      }
    }
    // Axes as an attribute (ReduceSum before opset 13, the others before 18): trailing and NHWC.
    const int attr_opset = o == "ReduceSum" ? 11 : 17;
    cases.push_back(make(o + "_f32_attr_rows", o, attr_opset, {input(f, {5, 7, 11, 13})},
                         [](Attributes& a) { a.set_ints("axes", {2, 3}); }));
    cases.push_back(make(o + "_f32_attr_nhwc", o, attr_opset, {input(f, {2, 7, 9, 67})},
                         [](Attributes& a) { a.set_ints("axes", {1, 2}); }));
    // NaN wins a max and poisons a sum; infinities of both signs.
    // 29 values over rows of 12 (columns of 12): some rows and columns hold a NaN, some do not.
    const std::vector<double> v = {1,   NAN,  -2, 3,   INFINITY, 0.5, -INFINITY, -1, 2,    -INFINITY,
                                   -INFINITY, 4, 0.25, -0.5, 7, 1.5, -3,        2.5, -INFINITY, 0,
                                   6,   -7,   0.75, 1, -1.25, 3.5, -6, 2, 8};
    cases.push_back(make(o + "_f32_nan_inf_rows", o, 18, {input(f, {9, 12}, Fill::kValues, v), int64_const({1})}));
    cases.push_back(make(o + "_f32_nan_inf_columns", o, 18, {input(f, {12, 9}, Fill::kValues, v), int64_const({0})}));
  }
}

void add_arg_cases(std::vector<Case>& cases) {
  for (const char* op : {"ArgMax", "ArgMin"}) {
    const std::string o = op;
    for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt32,
                       DataType::kUInt8, DataType::kInt64}) {
      cases.push_back(make(o + "_axis2_" + dtype_name(t), o, 13, {input(t, {5, 7, 11, 13})},
                           [](Attributes& a) { a.set_int("axis", 2); }));
    }
    cases.push_back(make(o + "_neg_axis_nokeep", o, 13, {input(DataType::kFloat32, {5, 7, 11, 13})}, [](Attributes& a) {
      a.set_int("axis", -1);
      a.set_int("keepdims", 0);
    }));
    cases.push_back(make(o + "_default_axis_opset11", o, 11, {input(DataType::kFloat32, {5, 7, 11})}));
    // Ties: few distinct values, first and last index.
    for (int last : {0, 1}) {
      cases.push_back(make(o + "_ties_select_last_" + std::to_string(last), o, 12,
                           {input(DataType::kInt32, {6, 9, 5}, Fill::kValues, {1, 3, 3, 1, 2, 3, 1})},
                           [last](Attributes& a) {
                             a.set_int("axis", 1);
                             a.set_int("select_last_index", last);
                           }));
    }
    cases.push_back(make(o + "_1d", o, 13, {input(DataType::kFloat32, {17})}));
    cases.push_back(make(o + "_zero_outer", o, 13, {input(DataType::kFloat32, {0, 5})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
  }
}

void add_cum_sum_cases(std::vector<Case>& cases) {
  auto axis_input = [](DataType t, double v) { return input(t, {}, Fill::kValues, {v}, true); };
  for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32,
                     DataType::kInt64, DataType::kUInt32, DataType::kUInt64}) {
    cases.push_back(make(std::string("CumSum_axis2_") + dtype_name(t), "CumSum", 14,
                         {input(t, {5, 7, 11, 13}, Fill::kPositive), axis_input(DataType::kInt64, 2)}));
  }
  for (int excl : {0, 1}) {
    for (int rev : {0, 1}) {
      cases.push_back(make("CumSum_excl" + std::to_string(excl) + "_rev" + std::to_string(rev), "CumSum", 11,
                           {input(DataType::kFloat32, {5, 7, 11, 13}), axis_input(DataType::kInt32, -1)},
                           [excl, rev](Attributes& a) {
                             a.set_int("exclusive", excl);
                             a.set_int("reverse", rev);
                           }));
    }
  }
  cases.push_back(make("CumSum_1d_axis_1elem", "CumSum", 14,
                       {input(DataType::kFloat32, {23}), input(DataType::kInt64, {1}, Fill::kValues, {0}, true)}));
  cases.push_back(make("CumSum_zero_size", "CumSum", 14, {input(DataType::kFloat32, {3, 0}), axis_input(DataType::kInt64, 1)}));
  cases.push_back(make("CumSum_int8_wrap", "CumSum", 14,
                       {input(DataType::kInt8, {4, 40}, Fill::kValues, {100, 27, -128}), axis_input(DataType::kInt64, 1)}));
}

void add_softmax_cases(std::vector<Case>& cases) {
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    const std::string o = op;
    for (DataType t : kFloats) {
      cases.push_back(make(o + "_opset13_default_" + dtype_name(t), o, 13, {input(t, {5, 7, 11, 13})}));
    }
    for (int axis : {0, 1, 2, -1}) {
      cases.push_back(make(o + "_opset13_axis" + std::to_string(axis), o, 13, {input(DataType::kFloat32, {5, 7, 11})},
                           [axis](Attributes& a) { a.set_int("axis", axis); }));
      // Before 13 the input is flattened to 2D at axis.
      cases.push_back(make(o + "_opset11_axis" + std::to_string(axis), o, 11, {input(DataType::kFloat32, {5, 7, 11})},
                           [axis](Attributes& a) { a.set_int("axis", axis); }));
    }
    cases.push_back(make(o + "_opset11_default", o, 11, {input(DataType::kFloat32, {5, 7, 11})}));
    cases.push_back(make(o + "_opset11_axis_eq_rank", o, 11, {input(DataType::kFloat32, {3, 4})},
                         [](Attributes& a) { a.set_int("axis", 2); }));
    cases.push_back(make(o + "_large", o, 13,
                         {input(DataType::kFloat32, {3, 8}, Fill::kValues, {1000, 1001, -1000, 999, 1e30, 7})}));
    cases.push_back(make(o + "_zero_size", o, 13, {input(DataType::kFloat32, {0, 5})}));
    // The cpu kernel's paths: rows off the vector width (and exactly one), rows spread over
    // threads, a middle axis with fewer and with more columns than its column block (256), the
    // pre-13 flattened view of long rows, -inf, NaN and all -inf rows.
    for (int64_t len : {1, 5, 16, 33, 1000}) {
      cases.push_back(make(o + "_last_axis_len" + std::to_string(len), o, 13, {input(DataType::kFloat32, {3, len})}));
    }
    cases.push_back(make(o + "_rows_threaded_64x700", o, 13, {input(DataType::kFloat32, {64, 700})}));
    cases.push_back(make(o + "_middle_axis_inner70", o, 13, {input(DataType::kFloat32, {3, 9, 70})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
    cases.push_back(make(o + "_middle_axis_inner300", o, 13, {input(DataType::kFloat32, {2, 9, 300})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
    cases.push_back(make(o + "_middle_axis_threaded", o, 13, {input(DataType::kFloat32, {6, 40, 200})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
    cases.push_back(make(o + "_opset11_flatten_4x5x40", o, 11, {input(DataType::kFloat32, {4, 5, 40})},
                         [](Attributes& a) { a.set_int("axis", 1); }));
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    // Rows of 17: the first has some -inf, the third a NaN, the fifth is all -inf.
    std::vector<double> special(85, 0.5);
    for (size_t j = 0; j < 17; ++j) special[j] = j % 3 == 0 ? -inf : static_cast<double>(j) * 0.25;
    special[40] = nan;
    for (size_t j = 68; j < 85; ++j) special[j] = -inf;
    cases.push_back(make(o + "_inf_nan_rows", o, 13, {input(DataType::kFloat32, {5, 17}, Fill::kValues, special)}));
    cases.push_back(make(o + "_inf_nan_columns", o, 13, {input(DataType::kFloat32, {5, 17}, Fill::kValues, special)},
                         [](Attributes& a) { a.set_int("axis", 0); }));
  }
  // Hardmax ties: the first max wins.
  cases.push_back(make("Hardmax_ties", "Hardmax", 13, {input(DataType::kFloat32, {4, 6}, Fill::kValues, {2, 2, 1, 2, 0})}));
}

void add_top_k_cases(std::vector<Case>& cases) {
  auto k_input = [](double k) { return input(DataType::kInt64, {1}, Fill::kValues, {k}, true); };
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt32, DataType::kInt64,
                     DataType::kUInt8, DataType::kInt8}) {
    cases.push_back(make(std::string("TopK_axis2_k4_") + dtype_name(t), "TopK", 11,
                         {input(t, {5, 7, 11, 13}), k_input(4)}, [](Attributes& a) { a.set_int("axis", 2); }, 2));
  }
  cases.push_back(make("TopK_smallest_neg_axis", "TopK", 11, {input(DataType::kFloat32, {5, 7, 11, 13}), k_input(5)},
                       [](Attributes& a) {
                         a.set_int("largest", 0);
                         a.set_int("axis", -1);
                       },
                       2));
  cases.push_back(make("TopK_ties", "TopK", 11,
                       {input(DataType::kInt32, {6, 10}, Fill::kValues, {3, 1, 3, 2, 1, 1, 3}), k_input(6)}, {}, 2));
  cases.push_back(make("TopK_ties_smallest", "TopK", 11,
                       {input(DataType::kInt32, {6, 10}, Fill::kValues, {3, 1, 3, 2, 1, 1, 3}), k_input(6)},
                       [](Attributes& a) { a.set_int("largest", 0); }, 2));
  cases.push_back(make("TopK_k0", "TopK", 11, {input(DataType::kFloat32, {4, 9}), k_input(0)}, {}, 2));
  cases.push_back(make("TopK_k_all", "TopK", 11, {input(DataType::kFloat32, {4, 9}), k_input(9)}, {}, 2));
  cases.push_back(make("TopK_opset10", "TopK", 10, {input(DataType::kFloat32, {3, 4, 5}), k_input(2)},
                       [](Attributes& a) { a.set_int("axis", 1); }, 2));
  cases.push_back(make("TopK_opset1_attr_k", "TopK", 1, {input(DataType::kFloat32, {3, 4, 5})},
                       [](Attributes& a) { a.set_int("k", 3); }, 2));
  cases.push_back(make("TopK_unsorted", "TopK", 11, {input(DataType::kFloat32, {7, 12}), k_input(5)},
                       [](Attributes& a) { a.set_int("sorted", 0); }, 2));
}

void add_loss_cases(std::vector<Case>& cases) {
  // Targets cycle through the 5 classes; -1 and 2 appear for ignore_index cases.
  const std::vector<double> targets = {0, 3, 1, 4, 2, -1, 2, 4};
  // With ignore_index 2, -1 is an invalid target (the kernel rightly refuses it): only 2 is ignored.
  const std::vector<double> targets_ii2 = {0, 3, 1, 4, 2, 1, 2, 4};
  auto target = [&](DataType t, Dims d, std::vector<double> v) { return input(t, std::move(d), Fill::kValues, std::move(v)); };
  auto weight = [](DataType t) { return input(t, {5}, Fill::kPositive, {}, true); };
  for (const char* op : {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"}) {
    const std::string o = op;
    const bool sce = o == "SoftmaxCrossEntropyLoss";
    const std::string p = sce ? "SCE" : "NLL";
    const std::vector<double> valid = {0, 3, 1, 4, 2};
    for (const char* red : {"none", "sum", "mean"}) {
      const std::string r = red;
      for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
        cases.push_back(make(p + "_" + r + "_NCd1d2_" + dtype_name(t), o, 13,
                             {input(t, {3, 5, 4, 6}), target(DataType::kInt64, {3, 4, 6}, valid)},
                             [r](Attributes& a) { a.set_string("reduction", r); }, sce ? 2 : 1));
      }
      cases.push_back(make(p + "_" + r + "_weight_NC", o, 13,
                           {input(DataType::kFloat32, {7, 5}), target(DataType::kInt32, {7}, valid),
                            weight(DataType::kFloat32)},
                           [r](Attributes& a) { a.set_string("reduction", r); }));
      cases.push_back(make(p + "_" + r + "_weight_ii_NCd1", o, 13,
                           {input(DataType::kFloat32, {4, 5, 9}), target(DataType::kInt64, {4, 9}, targets),
                            weight(DataType::kFloat32)},
                           [r](Attributes& a) {
                             a.set_string("reduction", r);
                             a.set_int("ignore_index", -1);
                           },
                           sce ? 2 : 1));
      cases.push_back(make(p + "_" + r + "_no_weight_ii_NCd1d2d3", o, 13,
                           {input(DataType::kFloat32, {2, 5, 3, 4, 2}), target(DataType::kInt64, {2, 3, 4, 2}, targets_ii2),
                            input(DataType::kFloat32, {5}, Fill::kRandom, {}, false, true)},
                           [r](Attributes& a) {
                             a.set_string("reduction", r);
                             a.set_int("ignore_index", 2);
                           }));
    }
    cases.push_back(make(p + "_default_mean_opset12", o, 12,
                         {input(DataType::kFloat32, {6, 5}), target(DataType::kInt64, {6}, valid)}));
  }
}

}  // namespace

void add_reduction_cases(std::vector<Case>& cases) {
  add_reduce_cases(cases);
  add_cpu_reduce_paths(cases);
  add_arg_cases(cases);
  add_cum_sum_cases(cases);
  add_softmax_cases(cases);
  add_top_k_cases(cases);
  add_loss_cases(cases);
}

}  // namespace kiln::harness
