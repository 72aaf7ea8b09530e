// Inference helpers private to the tensor family.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ir/op_schema.h"

namespace kiln {

// An int32/int64 operand that may be an input whose contents are not known ahead.
struct IntsOperand {
  bool present = false;  // the input is given
  bool known = false;    // its contents are known (constant or folded)
  std::vector<int64_t> values;
  std::optional<int64_t> length;  // element count when only its (1-D) shape is known
  std::optional<ShapeElems> elems;  // when not known: the elements shape arithmetic tracked
};

// Reads input i as an int operand; an error names the input when its dtype is not int32/int64.
Result<IntsOperand> ints_operand(const InferenceContext& ctx, size_t i, const char* name);

// The shape a shape operand's tracked elements describe (for Expand, ConstantOfShape): literals
// become known dims (an error for a negative one), the rest stay symbolic or unknown.
Result<SymShape> shape_from_elems(const InferenceContext& ctx, const ShapeElems& elems, size_t input);

// Copies the known dims of a rank's worth of unknown dims (when only the rank is known).
inline SymShape unknown_dims(size_t rank) { return SymShape(rank, Dim::unknown()); }

}  // namespace kiln
