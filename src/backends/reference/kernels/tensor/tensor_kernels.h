// Reference kernels of the tensor family, and the element-moving helpers they share. These ops
// only move elements, so most kernels work on raw elements of dtype_size bytes for any dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/kernel.h"

namespace kiln {

Status ref_reshape(KernelContext& ctx);
Status ref_transpose(KernelContext& ctx);
Status ref_concat(KernelContext& ctx);
Status ref_split(KernelContext& ctx);
Status ref_slice(KernelContext& ctx);
Status ref_squeeze(KernelContext& ctx);
Status ref_unsqueeze(KernelContext& ctx);
Status ref_flatten(KernelContext& ctx);
Status ref_expand(KernelContext& ctx);
Status ref_tile(KernelContext& ctx);
Status ref_pad(KernelContext& ctx);
Status ref_shape(KernelContext& ctx);
Status ref_size(KernelContext& ctx);
Status ref_constant(KernelContext& ctx);
Status ref_constant_of_shape(KernelContext& ctx);
Status ref_range(KernelContext& ctx);
Status ref_eye_like(KernelContext& ctx);
Status ref_trilu(KernelContext& ctx);
Status ref_depth_to_space(KernelContext& ctx);
Status ref_space_to_depth(KernelContext& ctx);
Status ref_one_hot(KernelContext& ctx);
Status ref_center_crop_pad(KernelContext& ctx);
Status ref_reverse_sequence(KernelContext& ctx);

// ---- helpers (tensor_kernel_util.cpp) ----

// Input i (int32/int64) as int64 values; an error names the input.
Result<std::vector<int64_t>> ints_input(const KernelContext& ctx, size_t i, const char* name);

// Input i, which must be present; an error names it otherwise.
Result<const Tensor*> required_input(const KernelContext& ctx, size_t i, const char* name);

// out[c] = in[maps[0][c0], maps[1][c1], ...] for every output coordinate c, where in has
// `in_dims` (same rank as out) and maps[d] has out_dims[d] entries; -1 writes `fill` (one
// element of esize bytes, nullptr for zero bytes).
void gather_by_axis_maps(const void* in, const Dims& in_dims, size_t esize, void* out, const Dims& out_dims,
                         const std::vector<std::vector<int64_t>>& maps, const void* fill);

// out = in transposed by perm (out dims are in_dims permuted).
void transpose_elements(const void* in, const Dims& in_dims, size_t esize, void* out,
                        const std::vector<int64_t>& perm);

// Allocates output 0 with x's dtype and `dims` and copies x's elements (same count) into it.
Status copy_with_shape(KernelContext& ctx, const Tensor& x, const Dims& dims);

}  // namespace kiln
