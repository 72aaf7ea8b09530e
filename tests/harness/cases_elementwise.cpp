#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "harness/harness.h"

namespace kiln::harness {

namespace {

const DataType kFloats[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                            DataType::kFloat64};
const DataType kInts[] = {DataType::kInt8,   DataType::kInt16, DataType::kInt32,
                          DataType::kInt64,  DataType::kUInt8, DataType::kUInt16,
                          DataType::kUInt32, DataType::kUInt64};
const DataType kSignedInts[] = {DataType::kInt8, DataType::kInt16, DataType::kInt32,
                                DataType::kInt64};

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

Case unary(const std::string& op, DataType t, Dims dims, Fill fill = Fill::kRandom,
           std::vector<double> values = {}) {
  Case c;
  c.name = op + "_" + dtype_name(t) + "_" + dims_to_string(dims);
  c.op_type = op;
  c.inputs = {input(t, std::move(dims), fill, std::move(values))};
  return c;
}

// Values where float ops have edges: zeros of both signs, halves (Round), infinities, NaN.
const std::vector<double> kSpecial = {0.0,   -0.0,     0.5,       -0.5, 1.5, 2.5,   -2.5, 1e30,
                                      -1e30, INFINITY, -INFINITY, NAN,  3.0, -7.25, 100.0};

// The cpu backend's vectorized unary kernels: sizes that take several threads, and the edges of
// the vector exp/log/tanh/erf (overflow and underflow bounds, subnormals, the points where the
// approximations switch formulas).
void add_cpu_unary_paths(std::vector<Case>& cases) {
  const std::vector<double> edges = {0.0,   -0.0,  1e-40,  -1e-40, 0.6249, 0.6251, 0.9999, 1.0001, 3.9,
                                     4.1,   9.0,   -9.0,   88.7,   88.73,  -87.5,  -103.0, -104.5, 20.0,
                                     -20.0, 1e30,  -1e30,  INFINITY, -INFINITY, NAN, 0.3, -0.3};
  for (const char* op : {"Exp", "Log", "Tanh", "Erf", "Sigmoid", "Gelu", "Softplus", "Relu", "Sqrt", "Neg", "Abs",
                         "Reciprocal", "Floor", "Ceil", "HardSwish", "HardSigmoid", "LeakyRelu"}) {
    Case c = unary(op, DataType::kFloat32, {2, 26}, Fill::kValues, edges);
    c.name += "_edges";
    cases.push_back(c);
    // 64K elements: more than one thread takes part, the last vector is partial nowhere; 3x21845
    // leaves a tail of 13 lanes.
    cases.push_back(unary(op, DataType::kFloat32, {2, 32768}, std::string(op) == "Log" || std::string(op) == "Sqrt"
                                                                   ? Fill::kPositive
                                                                   : Fill::kRandom));
    cases.push_back(unary(op, DataType::kFloat32, {3, 21845}));
  }
  {
    Case c = unary("Gelu", DataType::kFloat32, {2, 26}, Fill::kValues, edges);
    c.name += "_tanh_edges";
    c.attrs = [](Attributes& a) { a.set_string("approximate", "tanh"); };
    cases.push_back(c);
  }
  // Clip with bounds from non-constant inputs, and with a NaN bound (which clamps nothing).
  for (const auto& [name, lo, hi] : {std::tuple{"runtime_bounds", -0.25, 0.75}, std::tuple{"nan_min", double(NAN), 0.5}}) {
    Case c = unary("Clip", DataType::kFloat32, {2, 26}, Fill::kValues, edges);
    c.name += std::string("_") + name;
    c.opset = 13;
    c.inputs.push_back(input(DataType::kFloat32, {}, Fill::kValues, {lo}));
    c.inputs.push_back(input(DataType::kFloat32, {1}, Fill::kValues, {hi}));
    cases.push_back(c);
  }
}

}  // namespace

void add_elementwise_cases(std::vector<Case>& cases) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                     DataType::kFloat64, DataType::kInt32, DataType::kInt8}) {
    Case c;
    c.name = std::string("Relu_") + dtype_name(t) + "_5x7x11x13";
    c.op_type = "Relu";
    c.inputs = {input(t, {5, 7, 11, 13})};
    cases.push_back(c);
  }

  // Float-only unary math, each float dtype; Sqrt/Log/Acosh need positive (>= 1) inputs.
  for (const char* op : {"Reciprocal",
                         "Sqrt",
                         "Exp",
                         "Log",
                         "Ceil",
                         "Floor",
                         "Round",
                         "Sin",
                         "Cos",
                         "Tan",
                         "Asin",
                         "Acos",
                         "Atan",
                         "Sinh",
                         "Cosh",
                         "Asinh",
                         "Atanh",
                         "Tanh",
                         "Sigmoid",
                         "Softplus",
                         "Softsign",
                         "Mish",
                         "HardSwish",
                         "Elu",
                         "Selu",
                         "Celu",
                         "LeakyRelu",
                         "HardSigmoid",
                         "ThresholdedRelu",
                         "Gelu"}) {
    const std::string o = op;
    const Fill fill =
        (o == "Sqrt" || o == "Log" || o == "Reciprocal") ? Fill::kPositive : Fill::kRandom;
    for (DataType t : kFloats) cases.push_back(unary(o, t, {5, 7, 11, 13}, fill));
    cases.push_back(unary(o, DataType::kFloat32, {15}, Fill::kValues, kSpecial));
    cases.push_back(unary(o, DataType::kFloat32, {}));         // rank 0
    cases.push_back(unary(o, DataType::kFloat32, {3, 0, 4}));  // empty
  }
  for (DataType t : kFloats)
    cases.push_back(unary("Acosh", t, {3, 5, 7}, Fill::kValues, {1.0, 1.5, 2.0, 7.0, 100.0}));

  // Numeric unary math: floats and integers.
  for (const char* op : {"Abs", "Sign", "Erf", "Shrink"}) {
    for (DataType t : kFloats) cases.push_back(unary(op, t, {5, 7, 11, 13}));
    for (DataType t : kInts) cases.push_back(unary(op, t, {7, 11, 13}));
    cases.push_back(unary(op, DataType::kFloat32, {15}, Fill::kValues, kSpecial));
  }
  for (DataType t : kFloats) cases.push_back(unary("Neg", t, {5, 7, 11, 13}));
  for (DataType t : kSignedInts) cases.push_back(unary("Neg", t, {7, 11, 13}));
  // Integer extremes: Abs/Neg of the minimum wrap like numpy.
  cases.push_back(unary("Abs", DataType::kInt8, {4}, Fill::kValues, {-128, 127, 0, -1}));
  cases.push_back(
      unary("Neg", DataType::kInt32, {4}, Fill::kValues, {-2147483648.0, 2147483647, 0, -1}));

  for (DataType t : kFloats) {
    cases.push_back(unary("IsNaN", t, {15}, Fill::kValues, kSpecial));
    cases.push_back(unary("IsInf", t, {15}, Fill::kValues, kSpecial));
  }
  for (auto flags : {std::pair{0, 1}, std::pair{1, 0}}) {
    // Plain copies: clang 14 cannot capture structured bindings in a lambda.
    const int neg = flags.first, pos = flags.second;
    Case c = unary("IsInf", DataType::kFloat32, {15}, Fill::kValues, kSpecial);
    c.name += "_neg" + std::to_string(neg) + "_pos" + std::to_string(pos);
    c.attrs = [neg, pos](Attributes& a) {
      a.set_int("detect_negative", neg);
      a.set_int("detect_positive", pos);
    };
    cases.push_back(c);
  }
  cases.push_back(unary("Not", DataType::kBool, {5, 7, 11}));
  for (DataType t : kInts) cases.push_back(unary("BitwiseNot", t, {5, 7, 11}));

  // Activation attribute variants.
  auto with_float = [&](const std::string& op, const std::string& attr, float v) {
    Case c = unary(op, DataType::kFloat32, {5, 7, 11, 13});
    c.name += "_" + attr + "_" + std::to_string(v);
    c.attrs = [attr, v](Attributes& a) { a.set_float(attr, v); };
    cases.push_back(c);
  };
  with_float("LeakyRelu", "alpha", 0.3f);
  with_float("Elu", "alpha", 2.0f);
  with_float("Selu", "gamma", 2.0f);
  with_float("Celu", "alpha", 0.5f);
  with_float("HardSigmoid", "alpha", 0.7f);
  with_float("ThresholdedRelu", "alpha", -0.25f);
  with_float("Shrink", "lambd", 0.2f);
  with_float("Shrink", "bias", 1.5f);
  {
    Case c = unary("Gelu", DataType::kFloat32, {5, 7, 11, 13});
    c.name += "_tanh";
    c.opset = 20;
    c.attrs = [](Attributes& a) { a.set_string("approximate", "tanh"); };
    cases.push_back(c);
  }
  add_cpu_unary_paths(cases);
  for (Case& c : cases) {
    if (c.op_type == "Gelu") c.opset = 20;
    if (c.op_type == "Mish" || c.op_type == "BitwiseNot") c.opset = 18;
  }

  // PRelu: slope broadcast from the trailing dims, a per-channel slope, a scalar slope.
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt32,
                     DataType::kInt64}) {
    for (const Dims& sd : {Dims{5, 7, 11, 13}, Dims{11, 13}, Dims{7, 1, 1}, Dims{1}, Dims{}}) {
      Case c;
      c.name = std::string("PRelu_") + dtype_name(t) + "_5x7x11x13_slope_" + dims_to_string(sd);
      c.op_type = "PRelu";
      c.inputs = {input(t, {5, 7, 11, 13}), input(t, sd, Fill::kRandom, {}, true)};
      cases.push_back(c);
    }
  }

  // Clip: bounds as inputs (both, one, none, min > max), as opset-6 attributes, integers.
  for (DataType t :
       {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64,
        DataType::kInt8, DataType::kInt32, DataType::kUInt8, DataType::kInt64}) {
    struct Bounds {
      const char* name;
      bool has_min, has_max;
      double lo, hi;
    };
    for (const Bounds& b :
         {Bounds{"both", true, true, -0.5, 0.5}, Bounds{"min", true, false, 0.25, 0},
          Bounds{"max", false, true, 0, -0.25}, Bounds{"none", false, false, 0, 0},
          Bounds{"inverted", true, true, 0.5, -0.5}}) {
      const bool is_int = !(t == DataType::kFloat32 || t == DataType::kFloat16 ||
                            t == DataType::kBFloat16 || t == DataType::kFloat64);
      const bool is_unsigned = t == DataType::kUInt8;
      // Integer bounds inside the [-5, 5] fill; unsigned ones shifted to stay non-negative.
      const double scale = is_int ? 4.0 : 1.0;
      const double shift = is_unsigned ? 2.0 : 0.0;
      Case c;
      c.name = std::string("Clip_") + dtype_name(t) + "_7x11x13_" + b.name;
      c.op_type = "Clip";
      c.opset = 13;
      CaseInput lo = input(t, {}, Fill::kValues, {b.lo * scale + shift}, true, !b.has_min);
      CaseInput hi = input(t, {}, Fill::kValues, {b.hi * scale + shift}, true, !b.has_max);
      c.inputs = {input(t, {7, 11, 13}), lo, hi};
      cases.push_back(c);
    }
  }
  {
    Case c = unary("Clip", DataType::kFloat32, {7, 11, 13});
    c.name += "_opset6_attrs";
    c.opset = 6;
    c.attrs = [](Attributes& a) {
      a.set_float("min", -0.3f);
      a.set_float("max", 0.6f);
    };
    cases.push_back(c);
    Case d = unary("Clip", DataType::kFloat32, {7, 11, 13});
    d.name += "_opset6_default";
    d.opset = 6;
    cases.push_back(d);
  }

  // Identity, every dtype.
  for (DataType t : kFloats) cases.push_back(unary("Identity", t, {5, 7, 11}));
  for (DataType t : kInts) cases.push_back(unary("Identity", t, {5, 7, 11}));
  cases.push_back(unary("Identity", DataType::kBool, {5, 7, 11}));
  cases.push_back(unary("Identity", DataType::kFloat32, {}));

  // Cast and CastLike between every pair of kiln dtypes, with values that truncate (2.7, -2.7)
  // and that exercise rounding to 16-bit floats.
  std::vector<DataType> all(std::begin(kFloats), std::end(kFloats));
  all.insert(all.end(), std::begin(kInts), std::end(kInts));
  all.push_back(DataType::kBool);
  for (DataType from : all) {
    // Negative values only where `from` can hold them.
    const std::vector<double> vals =
        (from == DataType::kBool || dtype_is_unsigned_int(from))
            ? std::vector<double>{0, 1, 2, 100, 3, 7, 250}
            : std::vector<double>{0, 1, 2.7, -2.7, 100, 3.14159, -0.4, 7};
    for (DataType to : all) {
      Case c;
      c.name = std::string("Cast_") + dtype_name(from) + "_to_" + dtype_name(to);
      c.op_type = "Cast";
      c.opset = 19;
      c.inputs = {input(from, {3, 5, 7}, Fill::kValues, vals)};
      c.attrs = [to](Attributes& a) { a.set_int("to", static_cast<int64_t>(to)); };
      cases.push_back(c);
    }
    Case l;
    l.name = std::string("CastLike_") + dtype_name(from) + "_to_float16";
    l.op_type = "CastLike";
    l.opset = 19;
    l.inputs = {input(from, {3, 5, 7}, Fill::kValues, vals),
                input(DataType::kFloat16, {1}, Fill::kRandom, {}, true)};
    cases.push_back(l);
  }
  // Casts into float8 and int4/uint4. Only as outputs: the harness fills inputs through
  // dispatch_all, which (deliberately) has no float8/int4 types. Values cover rounding ties,
  // overflow (saturate on and off), NaN, infinities and signed zeros.
  const std::vector<double> lowbit_vals = {
      0.0,  -0.0, 0.4789, 1.5,  2.5,   -2.5,  7.6,     -8.6,    15.5, 448.0, 464.0,    465.0,
      1e6,  -1e6, 1e-7,   -1e-7, 240.0, 57344.0, 61440.0, 3.14159, NAN,  INFINITY, -INFINITY};
  for (DataType to : {DataType::kFloat8E4M3FN, DataType::kFloat8E4M3FNUZ, DataType::kFloat8E5M2,
                      DataType::kFloat8E5M2FNUZ, DataType::kInt4, DataType::kUInt4}) {
    for (DataType from :
         {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt32}) {
      for (int saturate : {1, 0}) {
        if (saturate == 0 && (to == DataType::kInt4 || to == DataType::kUInt4)) continue;
        Case c;
        c.name = std::string("Cast_") + dtype_name(from) + "_to_" + dtype_name(to) +
                 (saturate ? "" : "_no_saturate");
        c.op_type = "Cast";
        c.opset = 21;
        const std::vector<double> v = from == DataType::kInt32
                                          ? std::vector<double>{0, 1, -1, 7, 8, -9, 100, 20000}
                                          : lowbit_vals;
        c.inputs = {input(from, {3, 23}, Fill::kValues, v)};
        c.attrs = [to, saturate](Attributes& a) {
          a.set_int("to", static_cast<int64_t>(to));
          a.set_int("saturate", saturate);
        };
        cases.push_back(c);
      }
    }
  }
  cases.push_back(unary("Cast", DataType::kFloat32, {0, 5}));
  cases.back().name += "_to_float8e4m3fn_empty";
  cases.back().opset = 19;
  cases.back().attrs = [](Attributes& a) {
    a.set_int("to", static_cast<int64_t>(DataType::kFloat8E4M3FN));
  };
  cases.push_back(
      unary("Cast", DataType::kFloat64, {7}, Fill::kValues,
            {1.0 + 1.0 / 2048 + 1e-12, 65519.99, 65520.0, 1e-8, -1e300, NAN, INFINITY}));
  cases.back().name += "_to_float16_rounding";
  cases.back().attrs = [](Attributes& a) {
    a.set_int("to", static_cast<int64_t>(DataType::kFloat16));
  };
}

}  // namespace kiln::harness
