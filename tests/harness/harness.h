// The cross-backend op harness: a table of one-node cases (each op, odd shapes, broadcasting,
// each dtype). Each case is built as a one-node engine on every backend present and compared
// with the reference backend; buffers carry guard bytes; unsupported is reported as such.
//
// Op families add their cases in tests/harness/cases_<family>.cpp through add_<family>_cases().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/attribute.h"
#include "kiln/tensor.h"

namespace kiln::harness {

enum class Fill {
  kRandom,    // uniform in [-1, 1) (floats) or [-5, 5] (ints), {0,1} for bool
  kPositive,  // uniform in [0.1, 2) (floats) or [1, 5] (ints): for log, sqrt, divisors
  kValues,    // exactly `values` (repeated to fill)
};

struct CaseInput {
  DataType dtype = DataType::kFloat32;
  Dims dims;
  Fill fill = Fill::kRandom;
  std::vector<double> values;  // for kValues
  bool constant = false;       // an initializer (weights, shape operands) rather than a graph input
  bool omitted = false;        // an optional input left empty
};

struct Case {
  std::string name;  // unique, e.g. "Add_f32_bcast_5x7x11x13"
  std::string op_type;
  std::string domain;  // "" is ai.onnx; "kiln" for kiln's fused ops
  int opset = 17;      // of `domain`
  std::function<void(Attributes&)> attrs;  // may be empty
  std::vector<CaseInput> inputs;
  size_t num_outputs = 1;
  double tolerance = 1e-5;  // normalized error allowed against the reference
};

// Builders the case files share (an input's dtype, dims and fill; an omitted optional input;
// a dtype's name for case names).
inline CaseInput in(DataType t, Dims dims, Fill fill = Fill::kRandom, std::vector<double> values = {},
                    bool constant = false) {
  CaseInput c;
  c.dtype = t;
  c.dims = std::move(dims);
  c.fill = fill;
  c.values = std::move(values);
  c.constant = constant;
  return c;
}
inline CaseInput vals(DataType t, Dims dims, std::vector<double> values) {
  return in(t, std::move(dims), Fill::kValues, std::move(values));
}
inline CaseInput omitted() {
  CaseInput c;
  c.omitted = true;
  return c;
}
inline std::string tn(DataType t) { return dtype_name(t); }

// Family case lists (one file each under tests/harness/).
void add_elementwise_cases(std::vector<Case>& cases);
void add_binary_cases(std::vector<Case>& cases);
void add_reduction_cases(std::vector<Case>& cases);
void add_linalg_cases(std::vector<Case>& cases);
void add_pool_norm_cases(std::vector<Case>& cases);
void add_tensor_cases(std::vector<Case>& cases);
void add_indexing_cases(std::vector<Case>& cases);
void add_control_cases(std::vector<Case>& cases);
void add_fused_cases(std::vector<Case>& cases);  // the kiln domain (docs/fused_ops.md)

std::vector<Case> all_cases();

}  // namespace kiln::harness
