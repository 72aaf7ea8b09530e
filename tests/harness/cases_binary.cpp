#include <cmath>
#include <string>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                            DataType::kFloat64};
const DataType kInts[] = {DataType::kInt8,   DataType::kInt16, DataType::kInt32,
                          DataType::kInt64,  DataType::kUInt8, DataType::kUInt16,
                          DataType::kUInt32, DataType::kUInt64};
const DataType kUnsigned[] = {DataType::kUInt8, DataType::kUInt16, DataType::kUInt32,
                              DataType::kUInt64};

std::vector<DataType> numeric_types() {
  std::vector<DataType> v(std::begin(kFloats), std::end(kFloats));
  v.insert(v.end(), std::begin(kInts), std::end(kInts));
  return v;
}


Case make(const std::string& op, const std::string& suffix, std::vector<CaseInput> inputs,
          int opset = 17, std::function<void(Attributes&)> attrs = {}) {
  Case c;
  c.name = op + "_" + suffix;
  c.op_type = op;
  c.opset = opset;
  c.inputs = std::move(inputs);
  c.attrs = std::move(attrs);
  return c;
}


// Shapes every two-input op is tried on: equal odd shapes, two-sided broadcasting, a rank-0
// scalar, and an empty tensor.
struct ShapePair {
  const char* name;
  Dims a, b;
};
const ShapePair kShapes[] = {
    {"5x7x11x13", {5, 7, 11, 13}, {5, 7, 11, 13}},
    {"bcast_5x1x11x1_7x1x13", {5, 1, 11, 1}, {7, 1, 13}},
    {"bcast_scalar", {3, 17}, {}},
    {"empty_0x3_1x3", {0, 3}, {1, 3}},
};

void add_two_input(std::vector<Case>& cases, const std::string& op, DataType t, Fill fill_a,
                   Fill fill_b, std::vector<double> vals_b = {}, int opset = 17,
                   std::function<void(Attributes&)> attrs = {}) {
  for (const ShapePair& s : kShapes) {
    cases.push_back(make(op, tn(t) + "_" + s.name, {in(t, s.a, fill_a), in(t, s.b, fill_b, vals_b)},
                         opset, attrs));
  }
}

// The cpu backend's float32 arithmetic: each broadcast layout its kernel walks differently
// (same shape, a scalar either side, a trailing-dims bias, a per-channel [C,1,1], a column, both
// sides broadcast), sizes that take several threads, IEEE edge values, and rank 9 (reference).
void add_cpu_arith_paths(std::vector<Case>& cases) {
  const DataType f = DataType::kFloat32;
  const ShapePair layouts[] = {
      {"scalar_left", {}, {3, 17}},
      {"suffix_bias_2x5x96_96", {2, 5, 96}, {96}},
      {"per_channel_2x16x9x7_16x1x1", {2, 16, 9, 7}, {16, 1, 1}},
      {"per_channel_left_16x1x1_2x16x9x7", {16, 1, 1}, {2, 16, 9, 7}},
      {"leading_4x6x5_4x1x1", {4, 6, 5}, {4, 1, 1}},
      {"column_4x6x5_4x6x1", {4, 6, 5}, {4, 6, 1}},
      {"outer_7x1_1x13", {7, 1}, {1, 13}},
      {"middle_3x1x7_3x40x7", {3, 1, 7}, {3, 40, 7}},
      {"threads_same_2x32768", {2, 32768}, {2, 32768}},
      {"threads_bias_64x1024_1024", {64, 1024}, {1024}},
      {"threads_rows_64x1024_64x1", {64, 1024}, {64, 1}},
      {"rank9", {2, 1, 3, 1, 2, 1, 2, 1, 3}, {3}},
  };
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    const std::string o = op;
    const int opset = o == "Max" || o == "Min" ? 13 : 14;
    for (const ShapePair& s : layouts) {
      cases.push_back(make(op, "f32_" + std::string(s.name), {in(f, s.a), in(f, s.b, o == "Div" ? Fill::kPositive : Fill::kRandom)}, opset));
    }
    // NaN against numbers both ways, infinities, signed zeros (0/0 and x/0 for Div).
    cases.push_back(make(op, "f32_ieee_edges",
                         {vals(f, {4, 9}, {NAN, 1, -INFINITY, INFINITY, 0, -0.0, 2, NAN, -3}),
                          vals(f, {4, 9}, {2, NAN, INFINITY, INFINITY, -0.0, 0, NAN, NAN, -3, 0, 1})},
                         opset));
  }
}

}  // namespace

void add_binary_cases(std::vector<Case>& cases) {
  // Add, Sub, Mul, Div over every numeric dtype; integer divisors are kept nonzero.
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (DataType t : numeric_types()) {
      const bool int_div = std::string(op) == "Div" && dtype_is_int(t);
      add_two_input(cases, op, t, Fill::kRandom, int_div ? Fill::kValues : Fill::kRandom,
                    int_div ? std::vector<double>{3, 1, 2, 7, 5} : std::vector<double>{});
    }
  }
  add_cpu_arith_paths(cases);
  // Signed integer division truncates toward zero.
  cases.push_back(make("Div", "int32_negative",
                       {in(DataType::kInt32, {4, 6}, Fill::kValues, {-7, 7, -8, 9, -1, 0}),
                        in(DataType::kInt32, {6}, Fill::kValues, {2, -2, 3, -3, 5, -4})}));
  // Before opset 7: broadcast=1 with an axis placing B inside A.
  for (const char* op : {"Add", "Mul", "Sub", "Div"}) {
    cases.push_back(make(op, "opset6_axis1",
                         {in(DataType::kFloat32, {2, 3, 4, 5}, Fill::kPositive),
                          in(DataType::kFloat32, {3, 4}, Fill::kPositive)},
                         6, [](Attributes& a) {
                           a.set_int("broadcast", 1);
                           a.set_int("axis", 1);
                         }));
  }
  cases.push_back(make("Add", "opset6_bcast_suffix",
                       {in(DataType::kFloat32, {2, 3, 4, 5}), in(DataType::kFloat32, {5})}, 6,
                       [](Attributes& a) { a.set_int("broadcast", 1); }));

  // Pow: same-type pairs and the mixed pairs opset 12 allows.
  for (DataType t : kFloats) add_two_input(cases, "Pow", t, Fill::kPositive, Fill::kRandom);
  const std::pair<DataType, DataType> kPowPairs[] = {
      {DataType::kFloat32, DataType::kInt32},   {DataType::kFloat32, DataType::kInt64},
      {DataType::kFloat32, DataType::kUInt8},   {DataType::kFloat64, DataType::kInt16},
      {DataType::kInt32, DataType::kInt32},     {DataType::kInt64, DataType::kInt64},
      {DataType::kInt64, DataType::kInt32},     {DataType::kInt32, DataType::kUInt64},
      {DataType::kInt32, DataType::kFloat32},   {DataType::kInt64, DataType::kFloat64},
      {DataType::kFloat16, DataType::kFloat32}, {DataType::kBFloat16, DataType::kInt64},
  };
  for (auto [bt, et] : kPowPairs) {
    const bool int_base = dtype_is_int(bt);
    cases.push_back(make("Pow", tn(bt) + "_" + tn(et) + "_bcast",
                         {in(bt, {5, 7, 11}, int_base ? Fill::kRandom : Fill::kPositive),
                          in(et, {7, 1}, Fill::kValues, {0, 1, 2, 3, 4, 5, 2})}));
  }
  // Integer base with negative integer exponents: only +-1 survive.
  cases.push_back(make("Pow", "int64_negative_exponent",
                       {in(DataType::kInt64, {6}, Fill::kValues, {1, -1, 2, -3, 1, -1}),
                        in(DataType::kInt64, {6}, Fill::kValues, {-1, -3, -2, -1, -4, -2})}));

  // Mod: mixed signs; fmod=0 (integers, divisor's sign) and fmod=1 (dividend's sign).
  const std::vector<double> kDivisors = {3, -3, 2, -7, 5, 1, -1, 4};
  for (DataType t : kInts) {
    const bool sgn = dtype_is_signed_int(t);
    const std::vector<double> d = sgn ? kDivisors : std::vector<double>{3, 2, 7, 5, 1, 4};
    for (int64_t f : {0, 1}) {
      cases.push_back(make("Mod", tn(t) + "_fmod" + std::to_string(f) + "_bcast",
                           {in(t, {5, 7, 11}, Fill::kRandom), in(t, {11}, Fill::kValues, d)}, 17,
                           [f](Attributes& a) { a.set_int("fmod", f); }));
    }
  }
  for (DataType t : kFloats) {
    cases.push_back(make("Mod", tn(t) + "_fmod1",
                         {in(t, {5, 7, 11}, Fill::kValues, {5.5, -5.5, 7.25, -0.75, 3, 0.5, -2}),
                          in(t, {7, 11}, Fill::kValues, {2, -2, 1.5, -1.5, 0.25, 3})},
                         17, [](Attributes& a) { a.set_int("fmod", 1); }));
  }

  // BitShift, including shifts by the full bit width and more.
  for (DataType t : kUnsigned) {
    for (const char* dir : {"LEFT", "RIGHT"}) {
      const std::string d = dir;
      cases.push_back(make("BitShift", tn(t) + "_" + d + "_bcast",
                           {in(t, {5, 7, 11}, Fill::kValues, {1, 255, 17, 128, 3, 65535, 0, 99}),
                            in(t, {11}, Fill::kValues, {0, 1, 3, 7, 8, 15, 16, 31, 32, 63, 64})},
                           17, [d](Attributes& a) { a.set_string("direction", d); }));
    }
  }

  // Logical ops on bools.
  for (const char* op : {"And", "Or", "Xor"})
    add_two_input(cases, op, DataType::kBool, Fill::kRandom, Fill::kRandom);

  // Bitwise ops on every integer dtype.
  for (const char* op : {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) {
    for (DataType t : kInts) add_two_input(cases, op, t, Fill::kRandom, Fill::kRandom, {}, 18);
  }

  // Comparisons: small value sets so that equal pairs occur.
  const std::vector<double> kVa = {1, 2, 3, 2, -1, 0, 3};
  const std::vector<double> kVb = {2, 2, 0, 3, -1};
  for (const char* op : {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"}) {
    for (DataType t : numeric_types()) {
      const bool uns = dtype_is_unsigned_int(t);
      cases.push_back(
          make(op, tn(t) + "_bcast",
               {in(t, {5, 7, 11}, Fill::kValues, uns ? std::vector<double>{1, 2, 3, 2, 0, 3} : kVa),
                in(t, {7, 1}, Fill::kValues, uns ? std::vector<double>{2, 2, 0, 3, 1} : kVb)}));
    }
  }
  add_two_input(cases, "Equal", DataType::kBool, Fill::kRandom, Fill::kRandom);

  // Variadic: one, two and three inputs broadcast together.
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    const bool float_only = std::string(op) == "Sum" || std::string(op) == "Mean";
    std::vector<DataType> types =
        float_only ? std::vector<DataType>(std::begin(kFloats), std::end(kFloats))
                   : numeric_types();
    for (DataType t : types) {
      cases.push_back(make(op, tn(t) + "_one_5x7x11x13", {in(t, {5, 7, 11, 13})}));
      cases.push_back(make(op, tn(t) + "_two_bcast", {in(t, {5, 7, 11}), in(t, {7, 1})}));
      cases.push_back(
          make(op, tn(t) + "_three_bcast", {in(t, {5, 1, 11}), in(t, {7, 1}), in(t, {})}));
    }
    cases.push_back(
        make(op, "float32_empty", {in(DataType::kFloat32, {0, 4}), in(DataType::kFloat32, {4})}));
  }

  // Where over every dtype, the three inputs broadcast.
  std::vector<DataType> where_types = numeric_types();
  where_types.push_back(DataType::kBool);
  for (DataType t : where_types) {
    cases.push_back(make("Where", tn(t) + "_bcast",
                         {in(DataType::kBool, {5, 1, 11}), in(t, {7, 11}), in(t, {5, 7, 1})}));
  }
  cases.push_back(
      make("Where", "float32_scalar_cond",
           {in(DataType::kBool, {}), in(DataType::kFloat32, {3, 4}), in(DataType::kFloat32, {4})}));
  cases.push_back(make("Where", "float32_5x7x11x13",
                       {in(DataType::kBool, {5, 7, 11, 13}), in(DataType::kFloat32, {5, 7, 11, 13}),
                        in(DataType::kFloat32, {5, 7, 11, 13})}));
}

}  // namespace kiln::harness
