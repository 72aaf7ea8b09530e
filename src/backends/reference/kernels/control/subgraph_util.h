// Tensor plumbing shared by the control-flow kernels (If, Loop, Scan): byte-wise, so one code
// path serves every dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/kernel.h"

namespace kiln {

// Copies `t` into output i (allocated with t's dtype and shape).
Status output_copy(KernelContext& ctx, size_t i, const Tensor& t);

// The slice at position `pos` of `axis`, with that axis removed (a new buffer).
Result<Tensor> take_slice(const Tensor& t, int64_t axis, int64_t pos);

// Stacks `parts` (same dtype and shape) into output i along a new axis `axis` of the result;
// when `reverse`, part p lands at position count - 1 - p. `elem_dtype`/`elem_dims` give the
// part type when there are no parts. `count` (>= parts.size()) sizes the new axis; positions
// past the parts stay zero.
Status output_stack(KernelContext& ctx, size_t i, const std::vector<Tensor>& parts, int64_t axis, bool reverse,
                    DataType elem_dtype, const Dims& elem_dims, int64_t count);

// The dtype and static dims a body declares for output j (unknown dims as 0): the shape of a scan
// output's parts when a loop runs zero times.
void declared_output(const Graph& body, size_t j, DataType& dtype, Dims& dims);

// A bool (or numeric) one-element tensor as a truth value.
Result<bool> truth_of(const KernelContext& ctx, const Tensor& t, const char* what);

}  // namespace kiln
