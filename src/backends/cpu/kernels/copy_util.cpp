// Data-movement helpers of the cpu backend (see copy_util.h).
//
// strided_copy first drops size-1 dims and merges neighbours that are contiguous in the source,
// so a Split of [1,128,2304] along the last axis is 128 rows of 768 floats and a Transpose of
// [1,3,224,224] by (0,2,3,1) is one 2-D transpose of 3 x 50176. What is left is one of:
//   - rows: the innermost source stride is 1, each output row is one memcpy;
//   - a transpose: some other dim has source stride 1; the (that dim, innermost dim) plane is
//     copied in 64x64 blocks, so both the reads and the writes touch whole cache lines, with an
//     8x8 AVX2 register transpose inside a block for 4-byte elements;
//   - strided rows: no unit stride (Slice with a step on the last axis), an element loop.
// Work is split into units (row pieces, blocks) for kiln::parallel_for; each unit finds its
// source offset from its index, so any split is correct.
#include "backends/cpu/kernels/copy_util.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/cpu_isa.h"
#include "core/parallel.h"

namespace kiln::cpu {

namespace {

// Long rows are cut into pieces of this size so that a few long rows still spread over threads.
constexpr int64_t kPieceBytes = 64 * 1024;
// Transpose block edge in elements: 64x64 blocks of 4-byte elements are 16 KiB on each side (of
// edges 32 to 512, 64x64 was fastest on NCHW<->NHWC and 2-D transposes here). A plane thinner
// than that gets blocks as long as it is thin (3 x 1368 for NCHW to NHWC of RGB), so a block
// still moves ~4096 elements and the per-block bookkeeping stays small.
constexpr int64_t kBlock = 64;

template <typename T>
void strided_row(const T* src, int64_t step, T* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i * step];
}

void strided_row_bytes(const unsigned char* src, int64_t step, unsigned char* dst, int64_t n,
                       size_t es) {
  switch (es) {
    case 1:
      return strided_row(src, step, dst, n);
    case 2:
      return strided_row(reinterpret_cast<const uint16_t*>(src), step,
                         reinterpret_cast<uint16_t*>(dst), n);
    case 4:
      return strided_row(reinterpret_cast<const uint32_t*>(src), step,
                         reinterpret_cast<uint32_t*>(dst), n);
    case 8:
      return strided_row(reinterpret_cast<const uint64_t*>(src), step,
                         reinterpret_cast<uint64_t*>(dst), n);
    default:
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(dst + i * static_cast<int64_t>(es), src + i * step * static_cast<int64_t>(es),
                    es);
  }
}

// dst[r * ld_dst + c] = src[r + c * ld_src] for r < nr, c < nc (elements of type T).
template <typename T>
void transpose_block(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t nr, int64_t nc) {
  for (int64_t r = 0; r < nr; ++r) {
    T* d = dst + r * ld_dst;
    const T* s = src + r;
    for (int64_t c = 0; c < nc; ++c) d[c] = s[c * ld_src];
  }
}

// A plane of C < 8 columns (an NCHW -> NHWC transpose of RGB): C fixed, so each output row is
// C straight moves.
template <typename T, int C>
void transpose_narrow(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t nr) {
  for (int64_t r = 0; r < nr; ++r) {
    for (int c = 0; c < C; ++c) dst[r * ld_dst + c] = src[r + c * ld_src];
  }
}

template <typename T>
void transpose_block_any(const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t nr,
                         int64_t nc) {
  switch (nc) {
    case 1:
      return transpose_narrow<T, 1>(src, ld_src, dst, ld_dst, nr);
    case 2:
      return transpose_narrow<T, 2>(src, ld_src, dst, ld_dst, nr);
    case 3:
      return transpose_narrow<T, 3>(src, ld_src, dst, ld_dst, nr);
    case 4:
      return transpose_narrow<T, 4>(src, ld_src, dst, ld_dst, nr);
    default:
      return transpose_block(src, ld_src, dst, ld_dst, nr, nc);
  }
}

KILN_TARGET_AVX2 inline void transpose8x8_avx2(const float* src, int64_t ld_src, float* dst,
                                               int64_t ld_dst) {
  const __m256 r0 = _mm256_loadu_ps(src + 0 * ld_src), r1 = _mm256_loadu_ps(src + 1 * ld_src);
  const __m256 r2 = _mm256_loadu_ps(src + 2 * ld_src), r3 = _mm256_loadu_ps(src + 3 * ld_src);
  const __m256 r4 = _mm256_loadu_ps(src + 4 * ld_src), r5 = _mm256_loadu_ps(src + 5 * ld_src);
  const __m256 r6 = _mm256_loadu_ps(src + 6 * ld_src), r7 = _mm256_loadu_ps(src + 7 * ld_src);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ld_dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * ld_dst, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ld_dst, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ld_dst, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ld_dst, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ld_dst, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ld_dst, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ld_dst, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// The 4-byte block with 8x8 register transposes (narrow planes take the fixed-width loop). The
// AVX-512 path uses it too; a 16x16 AVX-512 transpose was not tried: these blocks are bound by
// memory traffic, not shuffles. Floats move as bit patterns (unpack, shuffle and permute never
// look at the values).
KILN_TARGET_AVX2 void transpose_block_4byte_avx2(const float* src, int64_t ld_src, float* dst,
                                                 int64_t ld_dst, int64_t nr, int64_t nc) {
  if (nc < 8) return transpose_block_any(src, ld_src, dst, ld_dst, nr, nc);
  int64_t r = 0;
  for (; r + 8 <= nr; r += 8) {
    int64_t c = 0;
    for (; c + 8 <= nc; c += 8)
      transpose8x8_avx2(src + r + c * ld_src, ld_src, dst + r * ld_dst + c, ld_dst);
    if (c < nc)
      transpose_block(src + r + c * ld_src, ld_src, dst + r * ld_dst + c, ld_dst, 8, nc - c);
  }
  if (r < nr) transpose_block(src + r, ld_src, dst + r * ld_dst, ld_dst, nr - r, nc);
}

void transpose_block_bytes(const unsigned char* src, int64_t ld_src, unsigned char* dst,
                           int64_t ld_dst, int64_t nr, int64_t nc, size_t es, bool simd) {
  switch (es) {
    case 1:
      return transpose_block_any(src, ld_src, dst, ld_dst, nr, nc);
    case 2:
      return transpose_block_any(reinterpret_cast<const uint16_t*>(src), ld_src,
                                 reinterpret_cast<uint16_t*>(dst), ld_dst, nr, nc);
    case 4:
      if (simd) {
        return transpose_block_4byte_avx2(reinterpret_cast<const float*>(src), ld_src,
                                          reinterpret_cast<float*>(dst), ld_dst, nr, nc);
      }
      return transpose_block_any(reinterpret_cast<const uint32_t*>(src), ld_src,
                                 reinterpret_cast<uint32_t*>(dst), ld_dst, nr, nc);
    case 8:
      return transpose_block_any(reinterpret_cast<const uint64_t*>(src), ld_src,
                                 reinterpret_cast<uint64_t*>(dst), ld_dst, nr, nc);
    default:
      for (int64_t r = 0; r < nr; ++r) {
        for (int64_t c = 0; c < nc; ++c) {
          std::memcpy(dst + (r * ld_dst + c) * static_cast<int64_t>(es),
                      src + (r + c * ld_src) * static_cast<int64_t>(es), es);
        }
      }
  }
}

// The merged problem: dims[0..rank) with source strides (elements).
struct Collapsed {
  int rank = 0;
  int64_t dims[kMaxCopyRank];
  int64_t strides[kMaxCopyRank];
};

// Drops size-1 dims and merges d into d+1 where the source is contiguous across them. Returns
// false when the view has no elements.
bool collapse(const StridedView& v, Collapsed& c) {
  c.rank = 0;
  for (int d = 0; d < v.rank; ++d) {
    if (v.dims[d] == 0) return false;
    if (v.dims[d] == 1) continue;
    if (c.rank > 0 && c.strides[c.rank - 1] == v.strides[d] * v.dims[d]) {
      c.dims[c.rank - 1] *= v.dims[d];
      c.strides[c.rank - 1] = v.strides[d];
      continue;
    }
    c.dims[c.rank] = v.dims[d];
    c.strides[c.rank] = v.strides[d];
    ++c.rank;
  }
  return true;
}

// Rows (the innermost dim) of a collapsed view, each cut into `pieces`; the outer dims are
// walked with an odometer so short rows do not pay a division per row.
struct RowsJob {
  const unsigned char* src;
  unsigned char* dst;
  size_t es;
  int outer_rank;  // dims before the row
  const int64_t* dims;
  const int64_t* strides;
  int64_t row_len, row_step;  // elements per row, source stride along it
  int64_t pieces, piece_len;
};

void run_rows(const RowsJob& j, int64_t begin, int64_t end) {
  int64_t idx[kMaxCopyRank];
  int64_t cur = begin / j.pieces, off = 0;
  for (int64_t d = j.outer_rank - 1, rest = cur; d >= 0; --d) {
    idx[d] = rest % j.dims[d];
    rest /= j.dims[d];
    off += idx[d] * j.strides[d];
  }
  for (int64_t u = begin; u < end; ++u) {
    const int64_t r = u / j.pieces;
    if (r != cur) {  // the next row: advance the odometer by one
      cur = r;
      for (int d = j.outer_rank - 1; d >= 0; --d) {
        off += j.strides[d];
        if (++idx[d] < j.dims[d]) break;
        off -= j.strides[d] * j.dims[d];
        idx[d] = 0;
      }
    }
    const int64_t p = u - r * j.pieces;
    const int64_t first = p * j.piece_len, n = std::min(j.piece_len, j.row_len - first);
    // Signed offsets: a reversed Slice walks the source backwards from its first element.
    const int64_t es = static_cast<int64_t>(j.es);
    unsigned char* d = j.dst + (r * j.row_len + first) * es;
    const unsigned char* s = j.src + (off + first * j.row_step) * es;
    if (j.row_step == 1)
      copy_bytes(d, s, static_cast<size_t>(n) * j.es);
    else
      strided_row_bytes(s, j.row_step, d, n, j.es);
  }
}

// The (k, innermost) planes of a collapsed view, in row_block x col_block blocks.
struct TransposeJob {
  const unsigned char* src;
  unsigned char* dst;
  size_t es;
  bool simd;
  int rank, k;
  const int64_t* dims;
  const int64_t* strides;
  int64_t dst_strides[kMaxCopyRank];
  int64_t row_block, col_block;    // block edges (elements)
  int64_t row_blocks, col_blocks;  // blocks along each edge
};

void run_transpose(const TransposeJob& j, int64_t begin, int64_t end) {
  const int last = j.rank - 1;
  const int64_t rows = j.dims[j.k], cols = j.dims[last];
  const int64_t ld_src = j.strides[last], ld_dst = j.dst_strides[j.k];
  for (int64_t u = begin; u < end; ++u) {
    int64_t rest = u;
    const int64_t cb = rest % j.col_blocks;
    rest /= j.col_blocks;
    const int64_t rb = rest % j.row_blocks;
    rest /= j.row_blocks;
    int64_t so = 0, doff = 0;
    for (int d = last - 1; d >= 0; --d) {
      if (d == j.k) continue;
      const int64_t i = rest % j.dims[d];
      rest /= j.dims[d];
      so += i * j.strides[d];
      doff += i * j.dst_strides[d];
    }
    const int64_t r0 = rb * j.row_block, c0 = cb * j.col_block;
    so += r0 + c0 * ld_src;  // the k dim has source stride 1
    doff += r0 * ld_dst + c0;
    transpose_block_bytes(
        j.src + so * static_cast<int64_t>(j.es), ld_src, j.dst + doff * static_cast<int64_t>(j.es),
        ld_dst, std::min(j.row_block, rows - r0), std::min(j.col_block, cols - c0), j.es, j.simd);
  }
}

int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void copy_bytes(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  // Two overlapping moves cover any length in [w, 2w]: no loop and no call for short runs.
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    std::memcpy(&a, s, 8);
    std::memcpy(&b, s + n - 8, 8);
    std::memcpy(d, &a, 8);
    std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    std::memcpy(d, s, n);
  }
}

void contiguous_strides(const int64_t* dims, int rank, int64_t* strides) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = s;
    s *= dims[d];
  }
}

void copy_block(const void* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t rows,
                int64_t row_bytes) {
  if (rows <= 0 || row_bytes <= 0) return;
  struct Job {
    const unsigned char* src;
    unsigned char* dst;
    int64_t src_stride, dst_stride, row_bytes, pieces;
  } job{static_cast<const unsigned char*>(src),
        static_cast<unsigned char*>(dst),
        src_stride,
        dst_stride,
        row_bytes,
        div_up(row_bytes, kPieceBytes)};
  const int64_t unit = std::min(row_bytes, kPieceBytes);
  // The lambda captures one reference, so std::function keeps it inline (no allocation).
  parallel_for(rows * job.pieces, std::max<int64_t>(1, kParallelCopyBytes / unit),
               [&job](int64_t b, int64_t e) {
                 for (int64_t u = b; u < e; ++u) {
                   const int64_t r = u / job.pieces, first = (u - r * job.pieces) * kPieceBytes;
                   copy_bytes(job.dst + r * job.dst_stride + first,
                              job.src + r * job.src_stride + first,
                              static_cast<size_t>(std::min(kPieceBytes, job.row_bytes - first)));
                 }
               });
}

void copy_parts(void* const* parts, const int64_t* part_bytes, size_t n, void* packed, int64_t rows,
                bool to_packed) {
  int64_t row_bytes = 0;
  for (size_t i = 0; i < n; ++i) row_bytes += part_bytes[i];
  if (rows <= 0 || row_bytes == 0) return;
  auto* pk = static_cast<unsigned char*>(packed);
  // Too few rows to share out: copy part by part, each split into pieces across threads.
  if (rows < 2 * intra_op_threads() && row_bytes * rows > kParallelCopyBytes) {
    int64_t col = 0;
    for (size_t i = 0; i < n; ++i) {
      auto* p = static_cast<unsigned char*>(parts[i]);
      if (to_packed)
        copy_block(p, part_bytes[i], pk + col, row_bytes, rows, part_bytes[i]);
      else
        copy_block(pk + col, row_bytes, p, part_bytes[i], rows, part_bytes[i]);
      col += part_bytes[i];
    }
    return;
  }
  struct Job {
    void* const* parts;
    const int64_t* part_bytes;
    size_t n;
    unsigned char* packed;
    int64_t row_bytes;
    bool to_packed;
  } job{parts, part_bytes, n, pk, row_bytes, to_packed};
  parallel_for(rows, std::max<int64_t>(1, kParallelCopyBytes / row_bytes),
               [&job](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) {
                   unsigned char* row = job.packed + r * job.row_bytes;
                   for (size_t i = 0; i < job.n; ++i) {
                     const int64_t pb = job.part_bytes[i];
                     unsigned char* part = static_cast<unsigned char*>(job.parts[i]) + r * pb;
                     if (job.to_packed)
                       copy_bytes(row, part, static_cast<size_t>(pb));
                     else
                       copy_bytes(part, row, static_cast<size_t>(pb));
                     row += pb;
                   }
                 }
               });
}

void strided_copy(const void* src, const StridedView& view, size_t esize, void* dst) {
  Collapsed c;
  if (!collapse(view, c)) return;
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  if (c.rank == 0) {
    std::memcpy(d, s, esize);
    return;
  }
  const int last = c.rank - 1;
  int k = -1;
  for (int i = 0; i < last; ++i) {
    if (c.strides[i] == 1) k = i;
  }
  if (c.strides[last] == 1 || k < 0) {
    const int64_t row_bytes = c.dims[last] * static_cast<int64_t>(esize);
    if (c.strides[last] == 1 && c.rank == 2) {
      copy_block(s, c.strides[0] * static_cast<int64_t>(esize), d, row_bytes, c.dims[0], row_bytes);
      return;
    }
    RowsJob j{s, d, esize, last, c.dims, c.strides, c.dims[last], c.strides[last], 1, c.dims[last]};
    if (row_bytes > kPieceBytes) {
      j.piece_len = std::max<int64_t>(1, kPieceBytes / static_cast<int64_t>(esize));
      j.pieces = div_up(c.dims[last], j.piece_len);
    }
    int64_t rows = 1;
    for (int i = 0; i < last; ++i) rows *= c.dims[i];
    const int64_t unit_bytes = std::min(row_bytes, kPieceBytes);
    parallel_for(rows * j.pieces, std::max<int64_t>(1, kParallelCopyBytes / unit_bytes),
                 [&j](int64_t b, int64_t e) { run_rows(j, b, e); });
    return;
  }
  TransposeJob j{s,      d,      esize,  esize == 4 && vector_isa() != VectorIsa::kScalar,
                 c.rank, k,      c.dims, c.strides,
                 {},     kBlock, kBlock, 0,
                 0};
  contiguous_strides(c.dims, c.rank, j.dst_strides);
  if (c.dims[last] < kBlock) j.row_block = (kBlock * kBlock / c.dims[last] + 7) / 8 * 8;
  if (c.dims[k] < kBlock) j.col_block = (kBlock * kBlock / c.dims[k] + 7) / 8 * 8;
  j.row_blocks = div_up(c.dims[k], j.row_block);
  j.col_blocks = div_up(c.dims[last], j.col_block);
  int64_t units = j.row_blocks * j.col_blocks;
  for (int i = 0; i < last; ++i) {
    if (i != k) units *= c.dims[i];
  }
  const int64_t block_bytes = std::min(j.row_block, c.dims[k]) *
                              std::min(j.col_block, c.dims[last]) * static_cast<int64_t>(esize);
  parallel_for(units, std::max<int64_t>(1, kParallelCopyBytes / block_bytes),
               [&j](int64_t b, int64_t e) { run_transpose(j, b, e); });
}

Dims& thread_dims(int slot) {
  thread_local Dims dims[4];
  return dims[slot];
}

int64_t* thread_ints(int slot, size_t n) {
  thread_local std::vector<int64_t> buf[2];
  if (buf[slot].size() < n) buf[slot].resize(n);
  return buf[slot].data();
}

void** thread_ptrs(size_t n) {
  thread_local std::vector<void*> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace kiln::cpu
