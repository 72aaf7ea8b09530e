// The tensor family: shape and data-movement ops (Reshape, Transpose, Concat, Slice, Pad, ...).
// Besides the register functions, this header holds the shape computations that inference and
// the reference kernels share, so the shape a kernel allocates is the shape inference promised.
// They return plain errors; callers prefix them with the node (ctx.error).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_schema.h"

namespace kiln {

void register_reshape(OpRegistry& r);
void register_transpose(OpRegistry& r);
void register_concat(OpRegistry& r);
void register_split(OpRegistry& r);
void register_slice(OpRegistry& r);
void register_squeeze(OpRegistry& r);
void register_unsqueeze(OpRegistry& r);
void register_flatten(OpRegistry& r);
void register_expand(OpRegistry& r);
void register_tile(OpRegistry& r);
void register_pad(OpRegistry& r);
void register_shape(OpRegistry& r);
void register_size(OpRegistry& r);
void register_constant(OpRegistry& r);
void register_constant_of_shape(OpRegistry& r);
void register_range(OpRegistry& r);
void register_eye_like(OpRegistry& r);
void register_trilu(OpRegistry& r);
void register_depth_to_space(OpRegistry& r);
void register_space_to_depth(OpRegistry& r);
void register_one_hot(OpRegistry& r);
void register_center_crop_pad(OpRegistry& r);
void register_reverse_sequence(OpRegistry& r);

// ---- shared by inference and kernels ----

// Every error below is an invalid-argument Status without the node prefix; this wraps one
// with it (for inference or kernel contexts alike).
template <typename Ctx>
Status with_node(const Ctx& ctx, const Status& s) {
  return s.ok() ? s : ctx.error(s.message());
}
template <typename Ctx, typename T>
Result<T> with_node_result(const Ctx& ctx, Result<T> r) {
  if (!r.ok()) return ctx.error(r.status().message());
  return r;
}

// Reshape: the output shape for `shape` (0 copies the input dim unless allowzero, one -1 is
// inferred). Symbols cancel when -1 must be inferred from symbolic dims.
Result<SymShape> reshape_output_shape(const SymShape& in, const std::vector<int64_t>& shape, bool allowzero);
// The same with a target whose elements may be symbolic dims (from shape arithmetic).
Result<SymShape> reshape_output_shape(const SymShape& in, const ShapeElems& shape, bool allowzero);

// Transpose: perm (empty: reversed) checked against rank.
Result<std::vector<int64_t>> transpose_perm(const std::vector<int64_t>& perm, size_t rank);

// Slice: one axis's clamped start, step and element count, exactly as ONNX defines.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
SliceAxis slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step);

// Slice: the per-axis parameters (normalized axes, starts, ends, steps) for a rank.
struct SliceSpec {
  std::vector<int64_t> axes, starts, ends, steps;
};
Result<SliceSpec> make_slice_spec(std::vector<int64_t> starts, std::vector<int64_t> ends,
                                  std::optional<std::vector<int64_t>> axes,
                                  std::optional<std::vector<int64_t>> steps, int64_t rank);

// Split: the chunk sizes along an axis of size `dim` (split given, or equal parts of
// num_outputs, the last one smaller when uneven_ok).
Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split,
                                         size_t num_outputs, bool uneven_ok);

// Squeeze/Unsqueeze: normalized axes (sorted, unique checked).
Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank);

// Pad: per-axis (begin, end) pads for a rank, from the raw pads and optional axes.
Result<std::vector<std::pair<int64_t, int64_t>>> pad_widths(const std::vector<int64_t>& pads,
                                                           const std::optional<std::vector<int64_t>>& axes,
                                                           int64_t rank);

// Shape: the [start, end) range of dims Shape returns (start/end clamped as opset 15 says).
std::pair<int64_t, int64_t> shape_range(int64_t start, int64_t end, int64_t rank);

// Range: element count for start/limit/delta (error if delta is 0).
Result<int64_t> range_count_double(double start, double limit, double delta, bool in_float32);
Result<int64_t> range_count_int(int64_t start, int64_t limit, int64_t delta);

}  // namespace kiln

namespace kiln {

// Constant: the tensor its attributes describe (value, value_float(s), value_int(s)).
Result<Tensor> constant_tensor(const Attributes& attrs);
// ConstantOfShape: the one-element fill tensor ('value', default float32 0).
Result<Tensor> constant_of_shape_fill(const Attributes& attrs);

}  // namespace kiln

namespace kiln {

// OneHot: the depth from its tensor (a scalar or one element of any numeric type, cast to int).
Result<int64_t> one_hot_depth(const Tensor& depth);

}  // namespace kiln
