// What the cpu backend's data-movement kernels (Transpose, Split, Concat, Slice, Gather) share:
// a strided copy into a contiguous output that becomes row memcpy's, blocked 2-D transposes or
// strided element loops after collapsing dims, a parallel 2-D block copy, and per-thread buffers
// that only grow, so a run at a planned shape allocates nothing.
//
// Elements are moved as raw bytes of their size (1, 2, 4 or 8), so every dtype kiln holds works.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/kernel.h"

namespace kiln::cpu {

// The most dims the copy helpers take; kernels run the reference for a higher rank.
constexpr int kMaxCopyRank = 12;

// Bytes worth a thread: a parallel region costs a few microseconds, about what one core needs to
// move this much, so smaller copies run on the calling thread.
constexpr int64_t kParallelCopyBytes = 128 * 1024;

// A view of `rank` dims whose element (i0, i1, ...) is at src + sum(i_d * strides[d]) elements;
// strides may be zero or negative.
struct StridedView {
  int rank = 0;
  int64_t dims[kMaxCopyRank] = {};
  int64_t strides[kMaxCopyRank] = {};
};

// Copies the view (elements of `esize` bytes at `src`) into `dst` in row-major order.
void strided_copy(const void* src, const StridedView& view, size_t esize, void* dst);

// rows x row_bytes block copy between strided rows (strides in bytes), parallel when large.
void copy_block(const void* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t rows,
                int64_t row_bytes);

// Concat and Split: `rows` packed rows, each the n parts one after another; part i of row r is
// part_bytes[i] contiguous bytes at parts[i] + r * part_bytes[i]. to_packed: parts -> packed
// (Concat), else packed -> parts (Split). Rows go in order, so the packed side streams.
void copy_parts(void* const* parts, const int64_t* part_bytes, size_t n, void* packed, int64_t rows,
                bool to_packed);

// Moves a run of `bytes`; cheaper than memcpy's call for the few-byte runs of small rows.
void copy_bytes(void* dst, const void* src, size_t bytes);

// Row-major strides (in elements) of `dims` into `strides`.
void contiguous_strides(const int64_t* dims, int rank, int64_t* strides);

// A per-thread Dims (slot 0..3) reused across runs: building an output shape allocates only
// until the buffer has grown to the rank.
Dims& thread_dims(int slot);

// A per-thread array of n int64 values (slot 0..1), grown only.
int64_t* thread_ints(int slot, size_t n);
// A per-thread array of n pointers, grown only.
void** thread_ptrs(size_t n);

}  // namespace kiln::cpu
