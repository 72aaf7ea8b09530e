// kiln bench --check: the engine's outputs against the same model in fp32 on the reference backend
// (the oracle), so a lower-precision engine (--bf16, --fp16) shows what it costs in accuracy.
#pragma once

#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::cli {

// How far one output is from the fp32 reference.
struct OutputError {
  std::string name;
  double rel_l2 = 0;       // ||out - ref|| / ||ref||
  double max_abs = 0;      // max |out - ref|
  double max_abs_ref = 0;  // max |ref|, the scale max_abs is read against
  int64_t mismatched = 0;  // non-float outputs: elements that differ; floats: NaN/Inf where ref is finite
  int64_t elements = 0;
};

// Builds `onnx_path` in fp32 for the reference backend (refusing a file whose SHA-256 is not
// `expected_sha256` when that is given: the engine was built from another model), runs it on
// `inputs` and compares each of `outputs` with its result.
Result<std::vector<OutputError>> check_against_fp32(const std::string& onnx_path, const std::string& expected_sha256,
                                                    const NamedTensors& inputs, const NamedTensors& outputs);

}  // namespace kiln::cli
