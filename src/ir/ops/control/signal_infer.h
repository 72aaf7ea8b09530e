// Helpers shared by the signal ops' schemas (windows, MelWeightMatrix, DFT, STFT).
#pragma once

#include <cstdint>
#include <optional>

#include "ir/op_schema.h"

namespace kiln {

// The 'output_datatype' attribute (default float32): a numeric dtype kiln holds; unsupported for
// valid ONNX types kiln does not hold (string, complex, float8, int4); invalid otherwise.
Result<DataType> output_datatype_attr(const InferenceContext& ctx);

// An int32/int64 input holding one value: its value when known, std::nullopt otherwise (or when
// the input is omitted). Checks dtype and element count.
Result<std::optional<int64_t>> scalar_int_input(const InferenceContext& ctx, size_t i, const char* name);

}  // namespace kiln
